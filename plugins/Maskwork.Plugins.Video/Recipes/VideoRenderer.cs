using Maskwork.Abstractions;
using Maskwork.Backend.Visuals;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Video.Recipes;

/// <summary>
/// Reconstructions as frame strips: per sample three rows — input, masked (hidden tubelets grey),
/// reconstruction (predicted tubelets pasted over the visible ones) — and one column per frame of the clip.
/// The sheet says how the prediction was un-normalised: with each target tubelet's own mean and standard
/// deviation, so brightness and contrast in the picture come from the input, not the model.
/// </summary>
public sealed class VideoRenderer(int maxSamples = 4, int scale = 2) : IReconstructionRenderer
{
    public (int Height, int Width, byte[] Rgb) Render(TokenBatch tokens, MaskPlan plan, Tensor reconstruction, ITokenizer tokenizer)
    {
        using var scope = NewDisposeScope();
        var dev = tokens.Tokens.device;
        var original = tokenizer.Detokenize(tokens.Tokens, tokens).cpu().clamp(0, 1); // [B,C,F,H,W]
        var tokenMask = zeros(tokens.BatchSize, tokens.TokenCount, device: dev)
            .scatter_(1, plan.Masked, ones(plan.Masked.shape, device: dev)).unsqueeze(-1).expand_as(tokens.Tokens);
        var pixelMask = PixelMask(tokenizer, tokenMask, tokens).cpu();
        var recon = tokenizer.Detokenize(reconstruction, tokens).cpu().clamp(0, 1);
        var masked = original * (1 - pixelMask) + 0.5 * pixelMask;
        var pasted = original * (1 - pixelMask) + recon * pixelMask;

        int b = (int)Math.Min(tokens.BatchSize, maxSamples), frames = (int)original.shape[2];
        double hidden = plan.MaskedCount / (double)tokens.TokenCount;
        string[] rows = ["input", $"masked ({hidden:P0})", "reconstruction"];
        var sheet = new Sheet(b * rows.Length, frames) { Scale = scale, Title = "reconstructions: one column per frame" };
        for (int f = 0; f < frames; f++) sheet.ColumnLabels[f] = $"frame {f}";
        var columns = new[] { original, masked, pasted };
        for (int i = 0; i < b; i++)
            for (int r = 0; r < rows.Length; r++)
            {
                sheet.RowLabels[i * rows.Length + r] = $"#{i + 1} {rows[r]}";
                for (int f = 0; f < frames; f++) sheet[i * rows.Length + r, f] = RgbImage.FromTensor(columns[r][i][.., f]);
            }
        sheet.Legend.Add(new LegendEntry("hidden from the encoder", Color.MaskGrey));
        sheet.Legend.Add(new LegendEntry("reconstruction: visible tubelets copied; predicted ones un-normalised with the TRUE mean and std of each target tubelet (the model predicts normalised pixels), so the picture's brightness and contrast come from the input"));
        var picture = sheet.Render();
        return (picture.Height, picture.Width, picture.Pixels);
    }

    /// <summary>A 0/1 token mask → the pixel mask (Detokenize also un-normalises; undo that with its zero and one).</summary>
    static Tensor PixelMask(ITokenizer tokenizer, Tensor tokens, TokenBatch like)
    {
        var zero = tokenizer.Detokenize(zeros_like(tokens), like);
        var one = tokenizer.Detokenize(ones_like(tokens), like);
        return ((tokenizer.Detokenize(tokens, like) - zero) / (one - zero)).round().clamp(0, 1);
    }
}
