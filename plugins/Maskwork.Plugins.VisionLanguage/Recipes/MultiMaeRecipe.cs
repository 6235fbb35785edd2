using System.ComponentModel;
using System.Globalization;
using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Masking;
using Maskwork.Backend.Nn;
using Maskwork.Backend.Tokenization;
using Maskwork.Plugins.VisionLanguage.Readers;
using Maskwork.Plugins.VisionLanguage.Text;

namespace Maskwork.Plugins.VisionLanguage.Recipes;

/// <summary>Model options of <c>vl/multimae</c> (JSON snake_case: <c>--set model.budget=48</c>).</summary>
public sealed record MultiMaeOptions : IImageTextOptions
{
    [Description("square image side in pixels; readers fit (letterbox) the image into it")]
    public int Size { get; init; } = 32;
    [Description("patch side in pixels, for RGB and alpha alike: each patch is one token")]
    public int Patch { get; init; } = 4;
    [Description("per-channel mean the RGB tokenizer subtracts")]
    public float[] Mean { get; init; } = [0.5f, 0.5f, 0.5f];
    [Description("per-channel standard deviation the RGB tokenizer divides by")]
    public float[] Std { get; init; } = [0.3f, 0.3f, 0.3f];
    [Description("caption tokens per sample: longer captions are truncated, shorter padded")]
    public int TextLength { get; init; } = 16;
    [Description("visible tokens per sample K, split over RGB, alpha and caption by a Dirichlet draw (MultiMAE: 98 of 588; here of 64+64+16 tokens)")]
    public int Budget { get; init; } = 64;
    [Description("Dirichlet concentration α per part (image, alpha, text); MultiMAE: 1")]
    public double[] Alphas { get; init; } = [1, 1, 1];
    [Description("draw a random non-empty subset of the parts per sample to receive the budget (on here: a caption has ~5 real tokens, so without it the caption is nearly always fully visible, and alpha is never hidden outright as in the silhouette-from-RGB evaluation)")]
    public bool SampleSubsets { get; init; } = true;
    [Description("while training, recomposite each RGB on a background colour drawn per sample and epoch (seeded), so the silhouette has to be read off the colour contrast rather than memorised per stamp; evaluation sees the reader's colours")]
    public bool Recolour { get; init; } = true;
    [Description("while training, mirror RGB and alpha together left–right with probability 0.5 per sample and epoch (seeded; MultiMAE flips all its modalities)")]
    public bool Flip { get; init; }
    [Description("alpha loss: bce (binary cross-entropy on logits) or mse (on sigmoid)")]
    public string AlphaLoss { get; init; } = "bce";
    [Description("weight of the RGB MSE in the summed loss")]
    public double ImageWeight { get; init; } = 1;
    [Description("weight of the alpha loss in the summed loss (2: the silhouette's BCE is small beside the caption's cross-entropy)")]
    public double AlphaWeight { get; init; } = 2;
    [Description("weight of the caption cross-entropy in the summed loss")]
    public double TextWeight { get; init; } = 1;
    [Description("predict per-patch normalised pixels for RGB (MAE's norm-pix loss)")]
    public bool NormPix { get; init; } = true;
    [Description("image tokenizer for RGB and alpha, by registered name (another plugin's: image/patches)")]
    public string ImageTokenizer { get; init; } = "image/patches";
    [Description("caption tokenizer, by registered name (vl/text)")]
    public string TextTokenizer { get; init; } = "vl/text";
    [Description("encoder width")]
    public int EncoderDim { get; init; } = 128;
    [Description("encoder transformer blocks")]
    public int EncoderDepth { get; init; } = 4;
    [Description("attention heads per encoder block")]
    public int EncoderHeads { get; init; } = 4;
    [Description("output adapter width (MultiMAE's 256: silhouette IoU 0.72 / 0.83 / 0.87 at 64 / 128 / 256 in vl-eval, at ~1× / 1.6× / 3.5× the step time)")]
    public int AdapterDim { get; init; } = 256;
    [Description("self-attention blocks per output adapter after its cross-attention (MultiMAE: 2)")]
    public int AdapterDepth { get; init; } = 2;
    [Description("attention heads per output adapter block")]
    public int AdapterHeads { get; init; } = 4;
}

/// <summary>
/// MultiMAE (Bachmann et al. 2022) on RGB + alpha silhouette + caption: per-part input adapters (linear patch projection
/// with 2-D sin-cos positions; token embedding with 1-D positions), a visible budget K split per sample by a Dirichlet(α)
/// draw (the backend's budget masker, real tokens only), one transformer encoder, one output adapter per part (mask-token
/// queries cross-attending to the encoder tokens, then self-attention blocks), losses summed: RGB MSE, alpha BCE, caption CE.
/// </summary>
public sealed class MultiMaeRecipe : ImageTextRecipe<MultiMaeOptions>
{
    public override string Name => "vl/multimae";
    public override string Description => "MultiMAE (Bachmann et al. 2022): RGB + alpha silhouette + caption, Dirichlet visible budget, one output adapter per part, sized for a 2-core CPU";

    protected override ModelParts Build(MultiMaeOptions o, BuildContext context)
    {
        if (o.Alphas.Length != 3) throw new ArgumentException($"model.alphas needs 3 values (image, alpha, text), got {o.Alphas.Length}");
        bool bce = o.AlphaLoss switch { "bce" => true, "mse" => false, _ => throw new ArgumentException($"model.alpha_loss must be bce or mse, got '{o.AlphaLoss}'") };
        var parts = Tokenizers(o, context);
        var image = parts["image"] as GridTokenizer ?? throw new ArgumentException($"{o.ImageTokenizer} must be a grid (patch) tokenizer");
        var alpha = (GridTokenizer)parts["alpha"];
        var text = parts["text"] as TextTokenizer ?? throw new ArgumentException($"{o.TextTokenizer} must be the vl/text caption tokenizer");
        var masker = BudgetMasker.Dirichlet(MultiMaeObjective.PartNames, o.Alphas, o.Budget, o.SampleSubsets);
        var encoder = new MultiMaeEncoder([
            ("image", new PatchInputAdapter(image.TokenDim, o.EncoderDim)),
            ("alpha", new PatchInputAdapter(alpha.TokenDim, o.EncoderDim)),
            ("text", new TextInputAdapter(text.Vocabulary.Size, o.EncoderDim)),
        ], new TransformerShape(o.EncoderDim, o.EncoderDepth, o.EncoderHeads));
        ISampleAugment[] augments = [.. o.Recolour ? [new BackgroundRecolour(context.Seed)] : Array.Empty<ISampleAugment>(), .. o.Flip ? [new MirrorParts(context.Seed)] : Array.Empty<ISampleAugment>()];
        if (augments.Length > 0)
        {
            parts.Augment = augments.Length == 1 ? augments[0] : new AugmentChain(augments);
            parts.AugmentWhile = () => encoder.training;
        }
        var objective = new MultiMaeObjective(o.EncoderDim, image.TokenDim, alpha.TokenDim, text.Vocabulary.Size,
            new TransformerShape(o.AdapterDim, o.AdapterDepth, o.AdapterHeads), o.NormPix, bce, o.ImageWeight, o.AlphaWeight, o.TextWeight);
        return new ModelParts(parts, masker, encoder, objective) { Renderer = new MultiMaeRenderer(text, objective), IndependentSamples = true };
    }

    /// <summary>RGB, alpha (raw, in [0,1]) and caption tokenizers, resolved by name through the registry (a missing plugin is named).</summary>
    public static PartsTokenizer Tokenizers(MultiMaeOptions o, BuildContext context)
    {
        var inv = CultureInfo.InvariantCulture;
        var alpha = context.Tokenizer(o.ImageTokenizer, new Dictionary<string, string>
        {
            ["size"] = o.Size.ToString(inv), ["channels"] = "1", ["patch"] = o.Patch.ToString(inv), ["mean"] = "0", ["std"] = "1",
        });
        return new PartsTokenizer([("image", RgbTokenizer(o, context)), ("alpha", alpha), ("text", CaptionTokenizer(o, context))], "image");
    }
}
