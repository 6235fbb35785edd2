using System.ComponentModel;
using Maskwork.Abstractions;
using Maskwork.Backend.Masking;
using Maskwork.Backend.Nn;
using Maskwork.Backend.Tokenization;
using Maskwork.Plugins.VisionLanguage.Text;

namespace Maskwork.Plugins.VisionLanguage.Recipes;

/// <summary>Model options of <c>vl/m3ae</c> (JSON snake_case: <c>--set model.text_weight=0.5</c>).</summary>
public sealed record M3aeOptions : IImageTextOptions
{
    [Description("square image side in pixels; readers fit (letterbox) the image into it")]
    public int Size { get; init; } = 32;
    [Description("patch side in pixels: each patch is one token")]
    public int Patch { get; init; } = 4;
    [Description("per-channel mean the image tokenizer subtracts")]
    public float[] Mean { get; init; } = [0.5f, 0.5f, 0.5f];
    [Description("per-channel standard deviation the image tokenizer divides by")]
    public float[] Std { get; init; } = [0.3f, 0.3f, 0.3f];
    [Description("caption tokens per sample: longer captions are truncated, shorter padded")]
    public int TextLength { get; init; } = 16;
    [Description("fraction of image patches hidden from the encoder (M3AE: 0.75)")]
    public double ImageMaskRatio { get; init; } = 0.75;
    [Description("fraction of real (non-padding) caption tokens hidden (M3AE: 0.75, far above BERT's 0.15)")]
    public double TextMaskRatio { get; init; } = 0.75;
    [Description("weight w of the caption cross-entropy: loss = image MSE + w × text CE (M3AE code: 0.1)")]
    public double TextWeight { get; init; } = 0.1;
    [Description("predict per-patch normalised pixels (MAE's norm-pix loss)")]
    public bool NormPix { get; init; } = true;
    [Description("image tokenizer, by registered name (another plugin's: image/patches)")]
    public string ImageTokenizer { get; init; } = "image/patches";
    [Description("caption tokenizer, by registered name (vl/text)")]
    public string TextTokenizer { get; init; } = "vl/text";
    [Description("encoder width")]
    public int EncoderDim { get; init; } = 128;
    [Description("encoder transformer blocks")]
    public int EncoderDepth { get; init; } = 4;
    [Description("attention heads per encoder block")]
    public int EncoderHeads { get; init; } = 4;
    [Description("decoder width")]
    public int DecoderDim { get; init; } = 64;
    [Description("decoder transformer blocks")]
    public int DecoderDepth { get; init; } = 2;
    [Description("attention heads per decoder block")]
    public int DecoderHeads { get; init; } = 4;
}

/// <summary>
/// M3AE (Geng et al. 2022): one encoder over the visible image patches and caption tokens with modality-type
/// embeddings, image and text masked at fixed ratios (0.75 each) by the backend's budget masker, loss = image MSE on
/// masked patches + w × cross-entropy on masked non-padding tokens. Composes <c>image/patches</c> (the image plugin's
/// tokenizer) and <c>vl/text</c> through the registry.
/// </summary>
public sealed class M3aeRecipe : ImageTextRecipe<M3aeOptions>
{
    public override string Name => "vl/m3ae";
    public override string Description => "M3AE (Geng et al. 2022): masked image patches + masked caption tokens in one encoder, sized for a 2-core CPU";

    protected override ModelParts Build(M3aeOptions o, BuildContext context)
    {
        var parts = Tokenizers(o, context);
        var image = parts["image"] as GridTokenizer ?? throw new ArgumentException($"{o.ImageTokenizer} must be a grid (patch) tokenizer");
        var text = parts["text"] as TextTokenizer ?? throw new ArgumentException($"{o.TextTokenizer} must be the vl/text caption tokenizer");
        var masker = BudgetMasker.FixedRatios([("image", o.ImageMaskRatio), ("text", o.TextMaskRatio)]);
        var encoder = new M3aeEncoder(image.TokenDim, text.Vocabulary.Size, new TransformerShape(o.EncoderDim, o.EncoderDepth, o.EncoderHeads));
        var objective = new M3aeObjective(o.EncoderDim, image.TokenDim, text.Vocabulary.Size, new TransformerShape(o.DecoderDim, o.DecoderDepth, o.DecoderHeads), o.NormPix, o.TextWeight);
        return new ModelParts(parts, masker, encoder, objective) { Renderer = new CaptionRenderer(text, objective), IndependentSamples = true };
    }

    /// <summary>The image and caption tokenizers, resolved by name through the registry (a missing plugin is named).</summary>
    public static PartsTokenizer Tokenizers(M3aeOptions o, BuildContext context) =>
        new([("image", RgbTokenizer(o, context)), ("text", CaptionTokenizer(o, context))], "image");
}
