using System.ComponentModel;
using System.Globalization;
using Maskwork.Abstractions;
using Maskwork.Backend.Masking;
using Maskwork.Backend.Nn;
using Maskwork.Backend.Objectives;
using Maskwork.Backend.Tokenization;

namespace Maskwork.Plugins.Image.Recipes;

/// <summary>
/// Model options of the image MAE recipes (JSON: snake_case, e.g. <c>--set model.mask_ratio=0.75</c>); the
/// masker options are the backend's shared grid set (<c>model.masker</c>, <c>model.noise</c>, …).
/// </summary>
public record ImageMaeOptions : GridMaskerOptions
{
    public ImageMaeOptions() => MaskRatio = 0.6;

    /// <summary>Square input side; readers resize/crop to it.</summary>
    [Description("square input side in pixels; readers resize and crop to it")]
    public int Size { get; init; } = 28;
    /// <summary>1 (grey) or 3 (RGB); readers convert to it.</summary>
    [Description("1 (grey) or 3 (RGB); readers convert to it")]
    public int Channels { get; init; } = 1;
    [Description("patch side in pixels: each patch is one token")]
    public int Patch { get; init; } = 7;
    [Description("per-channel mean the tokenizer subtracts")]
    public float[] Mean { get; init; } = [0.2860f];
    [Description("per-channel standard deviation the tokenizer divides by")]
    public float[] Std { get; init; } = [0.3530f];
    [Description("encoder width (token embedding size)")]
    public int EncoderDim { get; init; } = 128;
    [Description("encoder transformer blocks")]
    public int EncoderDepth { get; init; } = 6;
    [Description("attention heads per encoder block")]
    public int EncoderHeads { get; init; } = 4;
    [Description("decoder width")]
    public int DecoderDim { get; init; } = 64;
    [Description("decoder transformer blocks")]
    public int DecoderDepth { get; init; } = 2;
    [Description("attention heads per decoder block")]
    public int DecoderHeads { get; init; } = 4;
    /// <summary>Predict per-patch normalised pixels (MAE's norm-pix loss).</summary>
    [Description("predict per-patch normalised pixels (MAE's norm-pix loss)")]
    public bool NormPix { get; init; } = true;

    /// <summary>Hard Patches Mining: a head predicts each masked patch's loss; its scores on the full image guide <c>masker=guided</c>.</summary>
    [Description("Hard Patches Mining: also predict each patch's reconstruction loss, which guides masker=guided")]
    public bool PredictLoss { get; init; }

    /// <summary>What the image readers need to know: the side and the colour mode.</summary>
    internal IReadOnlyDictionary<string, string> ReaderOptions() => new Dictionary<string, string>
    {
        ["size"] = Size.ToString(CultureInfo.InvariantCulture),
        ["channels"] = Channels.ToString(CultureInfo.InvariantCulture),
    };
}

/// <summary>
/// MAE on images. The default is sized for a 2-core CPU: 128-d × 6 blocks at mask ratio 0.6 (a
/// plain-PyTorch MAE measured here learned far more with that than with the paper-like 192-d × 12 at
/// 0.75 in the same budget) on 7×7 patches (16 tokens for 28×28), 2,000 steps of 128: about three
/// minutes on two cores, linear probe ≈ 0.83 vs ≈ 0.74 for the same encoder at random init.
/// </summary>
public sealed class ImageMaeRecipe(string name, string description, ImageMaeOptions defaults) : IRecipe
{
    /// <summary>A recipe with the default options, random or block masking.</summary>
    public ImageMaeRecipe(string name, string description, bool block)
        : this(name, description, block ? new ImageMaeOptions { Masker = "block" } : new ImageMaeOptions()) { }

    public string Name { get; } = name;
    public string Description { get; } = description;
    public string DefaultData => "fashion-mnist";
    public Type OptionsType => typeof(ImageMaeOptions);
    public object DefaultOptions { get; } = defaults;

    public TrainOptions Training => CpuTraining;

    /// <summary>The schedule every image recipe shares (the teacher recipes too: the same step budget as image/mae).</summary>
    internal static TrainOptions CpuTraining { get; } = new()
    {
        Steps = 2000, Batch = 128, BaseLr = 2e-3, WarmupSteps = 100, WeightDecay = 0.05, Beta1 = 0.9, Beta2 = 0.95,
        ClipGrad = 1.0, CheckpointEvery = 200, LogEvery = 10,
    };

    public IReadOnlyDictionary<string, string> DataOptions(object options) => ((ImageMaeOptions)options).ReaderOptions();

    public ModelParts Build(object options, BuildContext context)
    {
        var o = (ImageMaeOptions)options;
        var tokenizer = GridTokenizer.Image(o.Patch, o.Channels, o.Size, o.Mean, o.Std);
        var masker = o.Build();
        if (o.Masker == "guided" && !o.PredictLoss)
            throw new ArgumentException("model.masker=guided needs a per-patch score: set model.predict_loss=true (Hard Patches Mining, as image/hpm does)");
        var encoder = new VitEncoder(tokenizer.TokenDim, new TransformerShape(o.EncoderDim, o.EncoderDepth, o.EncoderHeads));
        var objective = new MaeObjective(o.EncoderDim, tokenizer.TokenDim, new TransformerShape(o.DecoderDim, o.DecoderDepth, o.DecoderHeads), o.NormPix, o.PredictLoss);
        // Patches are masked with the same count per image and the loss is their mean: slices of a batch may train on parallel workers.
        return new ModelParts(tokenizer, masker, encoder, objective) { Renderer = new ImageRenderer(), IndependentSamples = true };
    }
}
