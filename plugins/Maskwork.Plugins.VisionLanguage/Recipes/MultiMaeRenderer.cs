using Maskwork.Abstractions;
using Maskwork.Backend.Tokenization;
using Maskwork.Backend.Visuals;
using Maskwork.Plugins.VisionLanguage.Text;
using static TorchSharp.torch;

namespace Maskwork.Plugins.VisionLanguage.Recipes;

/// <summary>
/// One row per sample: RGB input | masked | reconstruction, alpha input | masked | predicted (hidden patches filled with
/// the predicted probabilities), then the caption as read, as seen (▢ hidden) and with the predicted words [in brackets].
/// </summary>
public sealed class MultiMaeRenderer(TextTokenizer text, MultiMaeObjective objective, int scale = 3) : IReconstructionRenderer
{
    public (int Height, int Width, byte[] Rgb) Render(TokenBatch tokens, MaskPlan plan, Tensor reconstruction, ITokenizer tokenizer)
    {
        using var scope = NewDisposeScope();
        var parts = (PartsTokenizer)tokenizer;
        var set = PartsVisible.Of(tokens, plan, MultiMaeObjective.PartNames);
        var image = tokens.Parts!["image"];
        var alpha = tokens.Parts["alpha"];
        var (rgbIn, rgbMasked, rgbPasted, rgbHidden) = Columns(parts["image"], image, set.Shown[0], reconstruction);
        var last = objective.Last;
        var alphaPred = last is { } l && l.Alpha.shape[0] == image.BatchSize ? l.Alpha : zeros_like(alpha.Tokens).add(0.5);
        var (aIn, aMasked, aPasted, aHidden) = Columns(parts["alpha"], alpha, set.Shown[1], alphaPred);

        var ids = tokens.Parts["text"].Tokens.squeeze(-1).cpu();
        var shownText = set.Shown[2].cpu();
        int b = (int)rgbIn.shape[0];
        var sheet = new Sheet(b, 7) { Scale = 1, Title = "vl/multimae reconstructions: RGB, alpha silhouette and caption under one Dirichlet visible budget" };
        string[] labels = ["rgb", $"masked ({rgbHidden:P0} hidden)", "reconstruction", "alpha", $"masked ({aHidden:P0} hidden)", "predicted", "caption"];
        for (int c = 0; c < labels.Length; c++) sheet.ColumnLabels[c] = labels[c];
        var columns = new[] { rgbIn, rgbMasked, rgbPasted, aIn, aMasked, aPasted };
        for (int i = 0; i < b; i++)
        {
            sheet.RowLabels[i] = $"#{i + 1}";
            for (int c = 0; c < columns.Length; c++) sheet[i, c] = RgbImage.FromTensor(columns[c][i].repeat_interleave(scale, 1).repeat_interleave(scale, 2));
            var guess = last is { } g && g.Text.shape[0] == b ? g.Text[i].data<long>().ToArray() : null;
            sheet[i, 6] = CaptionRenderer.TextTile(CaptionRenderer.CaptionLines(text, ids[i].data<long>().ToArray(), shownText[i].data<bool>().ToArray(), guess));
        }
        sheet.Legend.Add(new LegendEntry("hidden from the encoder", Color.MaskGrey));
        var picture = sheet.Render();
        return (picture.Height, picture.Width, picture.Pixels);
    }

    /// <summary>Input, masked (grey where hidden) and input-with-prediction-pasted images of one patch part, and the fraction hidden.</summary>
    static (Tensor Input, Tensor Masked, Tensor Pasted, double Hidden) Columns(ITokenizer tokenizer, TokenBatch part, Tensor shown, Tensor prediction)
    {
        var hidden = shown.logical_not().to_type(ScalarType.Float32).unsqueeze(-1).expand_as(part.Tokens);
        var original = tokenizer.Detokenize(part.Tokens, part).cpu().clamp(0, 1);
        var zero = tokenizer.Detokenize(zeros_like(hidden), part);
        var pixelMask = (tokenizer.Detokenize(hidden, part) - zero).div(tokenizer.Detokenize(ones_like(hidden), part) - zero).cpu().round().clamp(0, 1);
        var recon = tokenizer.Detokenize(prediction.to(part.Tokens.device), part).cpu().clamp(0, 1);
        return (original, original * (1 - pixelMask) + 0.5 * pixelMask, original * (1 - pixelMask) + recon * pixelMask, hidden.mean().item<float>());
    }
}
