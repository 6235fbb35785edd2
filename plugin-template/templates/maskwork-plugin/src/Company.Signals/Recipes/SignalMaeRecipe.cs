using System.ComponentModel;
using System.Globalization;
using Maskwork.Abstractions;
using Maskwork.Backend.Masking;
using Maskwork.Backend.Nn;
using Maskwork.Backend.Objectives;
using Company.Signals.Tokenization;

namespace Company.Signals.Recipes;

/// <summary>
/// Model options of the MAE recipe. JSON names are snake_case: override them in a job file or with
/// <c>--set model.mask_ratio=0.6</c>, <c>--set model.length=256</c>.
/// </summary>
public sealed record SignalMaeOptions
{
    /// <summary>Steps per window; the reader cuts windows of this length.</summary>
    [Description("steps per window; the reader cuts windows of this length")]
    public int Length { get; init; } = 128;
    /// <summary>Channels per step (numeric columns of the series).</summary>
    [Description("channels per step (numeric columns of the series)")]
    public int Channels { get; init; } = 1;
    /// <summary>Steps per token.</summary>
    [Description("steps per token")]
    public int Patch { get; init; } = 8;
    /// <summary>Per-channel normalisation applied by the tokenizer (one value = every channel).</summary>
    [Description("per-channel mean the tokenizer subtracts (one value = every channel)")]
    public float[] Mean { get; init; } = [0f];
    /// <summary>Per-channel standard deviation (one value = every channel).</summary>
    [Description("per-channel standard deviation the tokenizer divides by (one value = every channel)")]
    public float[] Std { get; init; } = [1f];
    [Description("encoder width (token embedding size)")]
    public int EncoderDim { get; init; } = 64;
    [Description("encoder transformer blocks")]
    public int EncoderDepth { get; init; } = 4;
    [Description("attention heads per encoder block")]
    public int EncoderHeads { get; init; } = 4;
    [Description("decoder width")]
    public int DecoderDim { get; init; } = 32;
    [Description("decoder transformer blocks")]
    public int DecoderDepth { get; init; } = 1;
    [Description("attention heads per decoder block")]
    public int DecoderHeads { get; init; } = 4;
    /// <summary>Share of the patches hidden from the encoder.</summary>
    [Description("share of the patches hidden from the encoder")]
    public double MaskRatio { get; init; } = 0.5;
    /// <summary>Predict per-patch normalised values (MAE's norm-pix loss) instead of the raw ones.</summary>
    [Description("predict per-patch normalised values (MAE's norm-pix loss) instead of the raw ones")]
    public bool NormPix { get; init; }
}

/// <summary>
/// MAE on 1-D series: 1-D patches, random masking, the backend's transformer encoder on the visible
/// patches only, and the backend's MAE decoder with a masked-MSE loss. Sized for a 2-core CPU.
/// </summary>
public sealed class SignalMaeRecipe(string name) : IRecipe
{
    /// <inheritdoc/>
    public string Name { get; } = name;
    /// <inheritdoc/>
    public string Description => "MAE on 1-D series: 1-D patches, random masking, masked MSE";
    /// <inheritdoc/>
    public string DefaultData => $"{SignalsPlugin.Id}-csv:series.csv";
    /// <inheritdoc/>
    public Type OptionsType => typeof(SignalMaeOptions);
    /// <inheritdoc/>
    public object DefaultOptions { get; } = new SignalMaeOptions();

    /// <inheritdoc/>
    public TrainOptions Training { get; } = new()
    {
        Steps = 500, Batch = 32, BaseLr = 1e-2, WarmupSteps = 5, WeightDecay = 0.05, Beta1 = 0.9, Beta2 = 0.95,
        ClipGrad = 1.0, CheckpointEvery = 100, LogEvery = 1,
    };

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, string> DataOptions(object options)
    {
        var o = (SignalMaeOptions)options;
        return new Dictionary<string, string> { ["window"] = o.Length.ToString(CultureInfo.InvariantCulture) };
    }

    /// <inheritdoc/>
    public ModelParts Build(object options, BuildContext context)
    {
        var o = (SignalMaeOptions)options;
        var tokenizer = new PatchTokenizer1D(o.Patch, o.Channels, o.Length, o.Mean, o.Std);
        var masker = new RandomMasker(o.MaskRatio);
        var encoder = new VitEncoder(tokenizer.TokenDim, new TransformerShape(o.EncoderDim, o.EncoderDepth, o.EncoderHeads));
        var objective = new MaeObjective(o.EncoderDim, tokenizer.TokenDim, new TransformerShape(o.DecoderDim, o.DecoderDepth, o.DecoderHeads), o.NormPix);
        // Same masked count per window, loss = their mean, no global random numbers: the trainer may split batches across workers.
        return new ModelParts(tokenizer, masker, encoder, objective) { IndependentSamples = true };
    }
}
