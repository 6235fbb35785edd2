using Maskwork.Abstractions;
using Maskwork.Backend.Visuals;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Image.Recipes;

/// <summary>One row per sample: original | masked (grey patches) | reconstruction of the masked patches over the visible ones.</summary>
public sealed class ImageRenderer(int scale = 3) : IReconstructionRenderer
{
    public (int Height, int Width, byte[] Rgb) Render(TokenBatch tokens, MaskPlan plan, Tensor reconstruction, ITokenizer tokenizer)
    {
        using var scope = NewDisposeScope();
        var original = tokenizer.Detokenize(tokens.Tokens, tokens).cpu().clamp(0, 1);
        // A token-space mask detokenised gives the pixel mask, whatever the patch layout.
        var tokenMask = zeros(tokens.BatchSize, tokens.TokenCount, device: tokens.Tokens.device)
            .scatter_(1, plan.Masked, ones(plan.Masked.shape, device: tokens.Tokens.device)).unsqueeze(-1).expand_as(tokens.Tokens);
        var pixelMask = DetokenizeRaw(tokenizer, tokenMask, tokens).cpu().round().clamp(0, 1);
        var recon = tokenizer.Detokenize(reconstruction, tokens).cpu().clamp(0, 1);
        var masked = original * (1 - pixelMask) + 0.5 * pixelMask;
        var pasted = original * (1 - pixelMask) + recon * pixelMask;

        long b = original.shape[0];
        double hidden = plan.Masked.shape[1] / (double)tokens.TokenCount;
        var sheet = new Sheet((int)b, 3) { Scale = scale };
        sheet.ColumnLabels[0] = "input";
        sheet.ColumnLabels[1] = $"masked ({hidden:P0} hidden)";
        sheet.ColumnLabels[2] = "reconstruction";
        var columns = new[] { original, masked, pasted };
        for (int i = 0; i < b; i++)
        {
            sheet.RowLabels[i] = $"#{i + 1}";
            for (int col = 0; col < 3; col++) sheet[i, col] = RgbImage.FromTensor(columns[col][i]);
        }
        sheet.Legend.Add(new LegendEntry("hidden from the encoder", Color.MaskGrey));
        sheet.Legend.Add(new LegendEntry("reconstruction: predicted masked patches, visible patches copied"));
        var picture = sheet.Render();
        return (picture.Height, picture.Width, picture.Pixels);
    }

    // Detokenize also un-normalises; undo that for a 0/1 mask by detokenising zeros and subtracting.
    static Tensor DetokenizeRaw(ITokenizer tokenizer, Tensor tokens, TokenBatch like)
    {
        var zero = tokenizer.Detokenize(zeros_like(tokens), like);
        var one = tokenizer.Detokenize(ones_like(tokens), like);
        return (tokenizer.Detokenize(tokens, like) - zero) / (one - zero);
    }
}
