using System.ComponentModel;
using Maskwork.Abstractions;
using Maskwork.Plugins.Graph.Nn;
using Maskwork.Plugins.Graph.Readers;

namespace Maskwork.Plugins.Graph.Recipes;

/// <summary>
/// Model options of the GraphMAE recipes (JSON snake_case, e.g. <c>--set model.mask_rate=0.5</c>). Defaults are
/// GraphMAE's published Cora configuration (configs.yml); <see cref="CiteSeer"/> holds its CiteSeer entry.
/// The probe_* values are the node-classification probe's (GraphMAE's lr_f, weight_decay_f, max_epoch_f);
/// <c>maskwork probe</c> reads them from the run's model options.
/// </summary>
public sealed record GraphMaeOptions
{
    /// <summary>Encoder width (heads concatenated); each head is hidden / heads wide.</summary>
    [Description("encoder width (heads concatenated); each head is hidden / heads wide")]
    public int Hidden { get; init; } = 512;
    [Description("attention heads per GAT layer")]
    public int Heads { get; init; } = 4;
    [Description("GAT layers in the encoder")]
    public int Layers { get; init; } = 2;
    /// <summary>prelu, relu, elu, gelu or none.</summary>
    [Description("activation between layers: prelu, relu, elu, gelu or none")]
    public string Activation { get; init; } = "prelu";
    /// <summary>Dropout on every GAT layer's input (GraphMAE's in_drop).</summary>
    [Description("dropout on every GAT layer's input")]
    public double InputDropout { get; init; } = 0.2;
    [Description("dropout on the attention coefficients")]
    public double AttentionDropout { get; init; } = 0.1;
    [Description("LeakyReLU slope inside GAT's attention scores")]
    public double NegativeSlope { get; init; } = 0.2;
    [Description("add residual connections around GAT layers")]
    public bool Residual { get; init; }
    /// <summary>none, layernorm or batchnorm (encoder layers only, as in GraphMAE).</summary>
    [Description("normalisation of encoder layers: none, layernorm or batchnorm")]
    public string Norm { get; init; } = "none";
    [Description("share of the nodes whose features are masked")]
    public double MaskRate { get; init; } = 0.5;
    /// <summary>Share of masked nodes given a random node's features instead of the [MASK] token.</summary>
    [Description("share of masked nodes given a random node's features instead of the [MASK] token")]
    public double ReplaceRate { get; init; } = 0.05;
    /// <summary>Exponent α of the scaled cosine error.</summary>
    [Description("exponent α of the scaled cosine error (higher: focus on hard nodes)")]
    public double Alpha { get; init; } = 3;
    /// <summary>Divide each node's features by their sum (the citation datasets' preprocessing).</summary>
    [Description("divide each node's features by their sum")]
    public bool NormalizeFeatures { get; init; } = true;
    /// <summary>Drop given self-loops and add one per node.</summary>
    [Description("drop given self-loops and add one per node")]
    public bool SelfLoops { get; init; } = true;
    /// <summary>Node-feature width; 0 = read it from the job's data when the model is built.</summary>
    [Description("node-feature width; 0 = read it from the data")]
    public int Features { get; init; }
    [Description("epochs of the node-level linear probe")]
    public int ProbeEpochs { get; init; } = 300;
    [Description("learning rate of the node-level linear probe")]
    public double ProbeLr { get; init; } = 0.01;
    [Description("weight decay of the node-level linear probe")]
    public double ProbeWeightDecay { get; init; } = 1e-4;

    /// <summary>GraphMAE's CiteSeer entry: 2 heads, replace rate 0.1, α = 1, probe weight decay 0.01.</summary>
    public static GraphMaeOptions CiteSeer => new() { Heads = 2, ReplaceRate = 0.1, Alpha = 1, ProbeWeightDecay = 0.01 };
}

/// <summary>
/// GraphMAE (Hou et al., KDD 2022) with its published per-dataset configuration: GAT encoder, [MASK]-token node
/// masking with random replacement, re-masking, one-layer GAT decoder, scaled cosine error. Full-batch: the
/// dataset is one graph, a step is an epoch. Optimiser as in GraphMAE's code: Adam (0.9, 0.999) with coupled L2
/// weight decay on every parameter, no clipping, lr · (1 + cos(π·epoch/max)) / 2.
/// </summary>
public sealed class GraphMaeRecipe(string name, string description, string defaultData, GraphMaeOptions defaults, TrainOptions training) : IRecipe
{
    public string Name { get; } = name;
    public string Description { get; } = description;
    public string DefaultData { get; } = defaultData;
    public TrainOptions Training { get; } = training;
    public Type OptionsType => typeof(GraphMaeOptions);
    public object DefaultOptions { get; } = defaults;

    /// <summary>GraphMAE's training settings with <paramref name="epochs"/> and <paramref name="weightDecay"/>.</summary>
    public static TrainOptions Adam(int epochs, double weightDecay) => new()
    {
        Steps = epochs, Batch = 1, Accumulate = 1, Lr = 1e-3, WarmupSteps = 0, MinLr = 0,
        WeightDecay = weightDecay, WeightDecayMode = WeightDecayMode.L2, Beta1 = 0.9, Beta2 = 0.999,
        ClipGrad = 0, CheckpointEvery = Math.Max(1, epochs / 3), LogEvery = 10,
    };

    public static GraphMaeRecipe Cora() => new("graph/graphmae",
        "GraphMAE (Hou et al. 2022), published Cora configuration: GAT 2×512 (4 heads), mask 0.5, replace 0.05, SCE α=3, 1500 epochs",
        "planetoid:cora", new GraphMaeOptions(), Adam(1500, 2e-4));

    public static GraphMaeRecipe CiteSeer() => new("graph/graphmae-citeseer",
        "GraphMAE, published CiteSeer configuration: GAT 2×512 (2 heads), mask 0.5, replace 0.1, SCE α=1, 300 epochs",
        "planetoid:citeseer", GraphMaeOptions.CiteSeer, Adam(300, 2e-5));

    public IReadOnlyDictionary<string, string> DataOptions(object options) => new Dictionary<string, string>();

    public ModelParts Build(object options, BuildContext context)
    {
        var o = (GraphMaeOptions)options;
        int featureDim = o.Features > 0 ? o.Features : GraphData.FeatureDim(context.Data);
        var layer = new GatLayerOptions(o.InputDropout, o.AttentionDropout, o.NegativeSlope, o.Residual, o.Activation, o.Norm);
        var encoder = new GraphMaeEncoder(featureDim, o.Hidden, o.Heads, o.Layers, o.ReplaceRate, layer);
        var objective = new GraphMaeObjective(encoder.Dim, featureDim, o.Alpha, layer);
        return new ModelParts(new GraphTokenizer(o.NormalizeFeatures, o.SelfLoops), new NodeMasker(o.MaskRate), encoder, objective)
        {
            ProbeLevel = ProbeLevel.Token,
        };
    }
}
