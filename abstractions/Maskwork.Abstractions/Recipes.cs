using System.ComponentModel;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace Maskwork.Abstractions;

/// <summary>Optimisation settings every recipe has (MAE's defaults; recipes override them).</summary>
public sealed record TrainOptions
{
    /// <summary>Optimizer steps.</summary>
    [Description("optimizer steps; the learning-rate schedule spans them")]
    public int Steps { get; init; } = 1000;

    /// <summary>Samples per micro-batch.</summary>
    [Description("samples per micro-batch")]
    public int Batch { get; init; } = 128;

    /// <summary>Micro-batches accumulated per optimizer step.</summary>
    [Description("micro-batches whose gradients add up to one optimizer step")]
    public int Accumulate { get; init; } = 1;

    /// <summary>
    /// Threads that each run forward and backward on one slice of every micro-batch, the cores split
    /// between them (faster than one step spread over all cores for small models). 0 = automatic: 2 on
    /// a CPU with at least 2 threads when the recipe's samples are independent
    /// (<see cref="ModelParts.IndependentSamples"/>) and <see cref="Accumulate"/> is 1, otherwise 1.
    /// At most 2: two gradient contributions sum the same in either order, more would not, and a run
    /// must retrace exactly on resume.
    /// </summary>
    [Description("threads that each train one slice of a batch on a CPU: 0 = automatic, 1 or 2")]
    public int Workers { get; init; }

    /// <summary>Base learning rate; the real one is blr · effective batch / 256.</summary>
    [Description("base learning rate; the one used is base_lr × effective batch / 256")]
    public double BaseLr { get; init; } = 1.5e-4;

    /// <summary>Absolute learning rate; when set it wins over <see cref="BaseLr"/>.</summary>
    [Description("absolute learning rate; when set it wins over base_lr")]
    public double? Lr { get; init; }

    /// <summary>Linear warm-up steps, then cosine decay to <see cref="MinLr"/>.</summary>
    [Description("steps of linear warm-up before the cosine decay")]
    public int WarmupSteps { get; init; } = 100;

    /// <summary>Floor of the cosine schedule.</summary>
    [Description("learning rate the cosine decay ends at")]
    public double MinLr { get; init; }

    /// <summary>Decoupled weight decay (not applied to biases, norms, tokens, positional embeddings).</summary>
    [Description("weight decay (never on biases, norms, tokens, positional embeddings)")]
    public double WeightDecay { get; init; } = 0.05;

    /// <summary>How <see cref="WeightDecay"/> is applied: decoupled (AdamW, the default) or coupled L2 (Adam).</summary>
    [Description("decoupled (AdamW) or l2 (Adam with an L2 penalty in the gradient)")]
    public WeightDecayMode WeightDecayMode { get; init; } = WeightDecayMode.Decoupled;

    /// <summary>Adam β1.</summary>
    [Description("Adam's β1: decay of the gradient's moving average")]
    public double Beta1 { get; init; } = 0.9;

    /// <summary>Adam β2.</summary>
    [Description("Adam's β2: decay of the squared gradient's moving average")]
    public double Beta2 { get; init; } = 0.95;

    /// <summary>Global gradient-norm clip; 0 disables.</summary>
    [Description("clip the global gradient norm to this; 0 disables")]
    public double ClipGrad { get; init; } = 1.0;

    /// <summary>Write a checkpoint every this many steps (and at the end).</summary>
    [Description("write a checkpoint every this many steps (and at the end)")]
    public int CheckpointEvery { get; init; } = 100;

    /// <summary>Log a metrics row every this many steps.</summary>
    [Description("write a metrics row (and a progress.jsonl line) every this many steps")]
    public int LogEvery { get; init; } = 10;

    /// <summary>Consecutive non-finite losses that stop the run.</summary>
    [Description("consecutive non-finite losses that stop the run")]
    public int MaxNonFiniteSteps { get; init; } = 20;
}

/// <summary>How an optimizer applies weight decay. JSON: <c>"decoupled"</c> or <c>"l2"</c>.</summary>
[System.Text.Json.Serialization.JsonConverter(typeof(WeightDecayModeJsonConverter))]
public enum WeightDecayMode
{
    /// <summary>AdamW: θ ← θ − lr·wd·θ outside the moments, skipping biases, norms, tokens and positional tables (MAE).</summary>
    Decoupled,

    /// <summary>Adam with an L2 penalty: wd·θ added to the gradient of every parameter, as torch.optim.Adam(weight_decay=wd) (GraphMAE, most GNN code).</summary>
    L2,
}

/// <summary>Writes <see cref="WeightDecayMode"/> as <c>"decoupled"</c> / <c>"l2"</c>.</summary>
public sealed class WeightDecayModeJsonConverter() : System.Text.Json.Serialization.JsonStringEnumConverter<WeightDecayMode>(System.Text.Json.JsonNamingPolicy.SnakeCaseLower);

/// <summary>What a recipe builds: the four contracts for one job.</summary>
public sealed record ModelParts(ITokenizer Tokenizer, IMasker Masker, IEncoder Encoder, IObjective Objective)
{
    /// <summary>Optional renderer of reconstruction pictures.</summary>
    public IReconstructionRenderer? Renderer { get; init; }

    /// <summary>Optional renderer of mask pictures (<c>maskwork masks</c>) for layouts the backend cannot draw (LiDAR sectors, graphs); grids of rank 2 and 3 need none.</summary>
    public IMaskRenderer? MaskRenderer { get; init; }

    /// <summary>Whether a probe classifies whole samples (pooled tokens) or single tokens (graph nodes).</summary>
    public ProbeLevel ProbeLevel { get; init; } = ProbeLevel.Sample;

    /// <summary>
    /// True when the loss is a mean of per-sample terms with the same weight each (MAE's masked mean with
    /// a fixed masked count per sample) and the forward pass draws no numbers from torch's global
    /// generator: then a batch may be split into slices whose losses, weighted by their sample
    /// counts, sum to the batch's loss, and the trainer runs slices on parallel workers
    /// (<see cref="TrainOptions.Workers"/>). Leave false for losses that couple samples.
    /// </summary>
    public bool IndependentSamples { get; init; }
}

/// <summary>The unit a probe classifies.</summary>
public enum ProbeLevel
{
    /// <summary>One label per sample; features are mean-pooled tokens.</summary>
    Sample,

    /// <summary>One label per token (graph nodes).</summary>
    Token,
}

/// <summary>Renders input | masked | reconstruction rows to an RGB picture.</summary>
public interface IReconstructionRenderer
{
    /// <summary>Returns an RGB8 image (height, width, pixels) for the batch.</summary>
    (int Height, int Width, byte[] Rgb) Render(TokenBatch tokens, MaskPlan plan, Tensor reconstruction, ITokenizer tokenizer);
}

/// <summary>Draws what a masker hides on real samples, to an RGB picture.</summary>
public interface IMaskRenderer
{
    /// <summary>Returns an RGB8 image (height, width, pixels) of the batch's samples and their masks.</summary>
    (int Height, int Width, byte[] Rgb) Render(TokenBatch tokens, MaskPlan plan, ITokenizer tokenizer);
}

/// <summary>Everything a recipe needs when it builds its parts.</summary>
/// <param name="Device">Where tensors live.</param>
/// <param name="Data">The data the job reads (a tokenizer may size itself from it).</param>
public sealed record BuildContext(Device Device, DataSpec Data)
{
    /// <summary>The tokenizers every loaded plugin registered (null when the caller has no registry: then only a recipe's own tokenizers exist).</summary>
    public ITokenizerCatalog? Tokenizers { get; init; }

    /// <summary>The run folder the model belongs to, when there is one: a recipe keeps data-derived state there (a vocabulary) so resume and probe reuse it.</summary>
    public string? RunFolder { get; init; }

    /// <summary>
    /// The run's seed, for randomness a recipe keys by sample rather than draws from torch's generator (clip starts,
    /// background colours: functions of seed, epoch and index, so resume and probe see the same ones). The host sets
    /// it; left unset, it is the seed torch's generator was last seeded with, which the host seeds with the run's.
    /// </summary>
    public long Seed { get; init; } = (long)TorchSharp.torch.random.initial_seed();

    /// <summary>
    /// Builds the tokenizer registered as <paramref name="name"/> (<c>image/patches</c>) by any loaded plugin; throws
    /// <see cref="MissingComponentException"/> naming the plugin when none registered it.
    /// </summary>
    public ITokenizer Tokenizer(string name, IReadOnlyDictionary<string, string>? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var factory = Tokenizers?.Tokenizer(name);
        if (factory is null)
        {
            int slash = name.IndexOf('/');
            string plugin = slash > 0 ? name[..slash] : name;
            string detail = Tokenizers is null ? " (no tokenizer registry was given to this build)"
                : Tokenizers.TokenizerNames.Count == 0 ? "" : $"; registered tokenizers: {string.Join(", ", Tokenizers.TokenizerNames)}";
            throw new MissingComponentException("tokenizer", name, plugin, detail);
        }
        return factory.Create(new TokenizerRequest(options ?? new Dictionary<string, string>(), this));
    }
}

/// <summary>
/// A named composition with defaults (<c>image/mae</c>): data, training options and model options.
/// Model options are a plain record; the host serialises it to JSON (snake_case), applies job-file and
/// <c>--set model.k=v</c> overrides, and hands the result back to <see cref="Build"/>.
/// </summary>
public interface IRecipe
{
    /// <summary><c>&lt;plugin-id&gt;/&lt;name&gt;</c>.</summary>
    string Name { get; }

    /// <summary>One line for humans.</summary>
    string Description { get; }

    /// <summary>Data spec used when the job names none.</summary>
    string DefaultData { get; }

    /// <summary>Reader options that follow from resolved model options (image size, channels); <c>--set data.k=v</c> overrides them.</summary>
    IReadOnlyDictionary<string, string> DataOptions(object options);

    /// <summary>Optimisation defaults.</summary>
    TrainOptions Training { get; }

    /// <summary>The model options record's type.</summary>
    Type OptionsType { get; }

    /// <summary>Default model options (an instance of <see cref="OptionsType"/>).</summary>
    object DefaultOptions { get; }

    /// <summary>Builds the parts from resolved options (an instance of <see cref="OptionsType"/>).</summary>
    ModelParts Build(object options, BuildContext context);
}

/// <summary>Snake-case JSON helpers shared by host and plugins so option files look the same everywhere.</summary>
public static class OptionsJson
{
    /// <summary>The serializer settings for options records.</summary>
    public static readonly System.Text.Json.JsonSerializerOptions Settings = new()
    {
        PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>Serialises an options record to a JSON object.</summary>
    public static JsonObject ToJson(object options) =>
        System.Text.Json.JsonSerializer.SerializeToNode(options, options.GetType(), Settings)!.AsObject();

    /// <summary>Reads an options record back.</summary>
    public static object FromJson(JsonObject json, Type type) =>
        System.Text.Json.JsonSerializer.Deserialize(json, type, Settings) ?? throw new InvalidOperationException($"null options for {type.Name}");
}
