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

        long b = original.shape[0], c = original.shape[1], h = original.shape[2], w = original.shape[3];
        int gap = 4, cellW = (int)w * scale, cellH = (int)h * scale;
        var canvas = new Canvas(3 * cellW + 4 * gap, (int)b * (cellH + gap) + gap + 12, (255, 255, 255));
        canvas.Text(gap, 2, "INPUT", (0, 0, 0));
        canvas.Text(gap * 2 + cellW, 2, "MASKED", (0, 0, 0));
        canvas.Text(gap * 3 + 2 * cellW, 2, "RECON", (0, 0, 0));
        var columns = new[] { original, masked, pasted };
        for (int i = 0; i < b; i++)
            for (int col = 0; col < 3; col++)
            {
                var img = columns[col][i];
                var rgb = (c == 1 ? img.expand(3, h, w) : img).permute(1, 2, 0).mul(255).round().to_type(ScalarType.Byte).contiguous();
                canvas.Blit(gap + col * (cellW + gap), 12 + gap + i * (cellH + gap), (int)w, (int)h, rgb.bytes.ToArray(), scale);
            }
        return (canvas.Height, canvas.Width, canvas.Pixels);
    }

    // Detokenize also un-normalises; undo that for a 0/1 mask by detokenising zeros and subtracting.
    static Tensor DetokenizeRaw(ITokenizer tokenizer, Tensor tokens, TokenBatch like)
    {
        var zero = tokenizer.Detokenize(zeros_like(tokens), like);
        var one = tokenizer.Detokenize(ones_like(tokens), like);
        return (tokenizer.Detokenize(tokens, like) - zero) / (one - zero);
    }
}
