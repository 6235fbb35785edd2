using Maskwork.Abstractions;
using Maskwork.Backend.Visuals;
using static TorchSharp.torch;

namespace Maskwork.Backend.Masking;

/// <summary>
/// What a masker hides, on real samples of a dense grid (<c>maskwork masks</c>): one row per sample —
/// input | masked (hidden patches grey) | the mask (white = hidden) and, with a decoder mask, what the loss
/// counts (hidden and kept by the decoder). Samples [C,H,W] draw as images; samples [C,A,H,W] (time or depth
/// first) as strips of frames or slices. The pixel mask is the token mask detokenised, so any patch shape works.
/// </summary>
public static class MaskPicture
{
    /// <summary>The data of the picture: per sample the input, the masked input, the mask and (or null) the scored tokens, each [C, dims...] in [0, 1].</summary>
    public sealed record Panels(Tensor Input, Tensor Masked, Tensor Mask, Tensor? Scored);

    /// <summary>Pixel-space panels of a batch and its plan.</summary>
    public static Panels Compute(TokenBatch tokens, MaskPlan plan, ITokenizer tokenizer)
    {
        var dev = tokens.Tokens.device;
        var input = tokenizer.Detokenize(tokens.Tokens, tokens).cpu().clamp(0, 1);
        var hidden = Pixels(tokenizer, tokens, zeros(tokens.BatchSize, tokens.TokenCount, device: dev).scatter_(1, plan.Masked, ones(plan.Masked.shape, device: dev)));
        var masked = input * (1 - hidden) + 0.5 * hidden;
        Tensor? scored = null;
        if (plan.DecoderTargets is { } kept)
        {
            var keptMask = zeros(tokens.BatchSize, tokens.TokenCount, device: dev).scatter_(1, kept, ones(kept.shape, device: dev));
            scored = hidden * Pixels(tokenizer, tokens, keptMask);
        }
        return new Panels(input, masked, hidden, scored);
    }

    /// <summary>A token mask [B,N] of 0/1 → the pixel mask [B, C, dims...] (Detokenize un-normalises, so subtract its zero and scale by its one).</summary>
    static Tensor Pixels(ITokenizer tokenizer, TokenBatch like, Tensor tokenMask)
    {
        var t = tokenMask.unsqueeze(-1).expand_as(like.Tokens);
        var zero = tokenizer.Detokenize(zeros_like(t), like);
        var one = tokenizer.Detokenize(ones_like(t), like);
        return ((tokenizer.Detokenize(t, like) - zero) / (one - zero)).cpu().round().clamp(0, 1);
    }

    /// <summary>The sheet of <paramref name="panels"/> (the thin drawing step).</summary>
    public static Sheet Draw(Panels panels, string? title, string axisName = "t", int scale = 4)
    {
        long b = panels.Input.shape[0];
        int columns = panels.Scored is null ? 3 : 4;
        int rank = (int)panels.Input.dim() - 2;
        if (rank is not (2 or 3)) throw new NotSupportedException($"mask pictures draw samples [C,H,W] and [C,A,H,W]; these are [{string.Join(',', panels.Input.shape.Skip(1))}] (a plugin's mask renderer can draw them)");
        var sheet = new Sheet((int)b, columns) { Title = title, Scale = rank == 2 ? scale : 1 };
        sheet.ColumnLabels[0] = "input";
        sheet.ColumnLabels[1] = "masked";
        sheet.ColumnLabels[2] = "mask";
        if (columns == 4) sheet.ColumnLabels[3] = "loss counts";
        for (int i = 0; i < b; i++)
        {
            sheet.RowLabels[i] = $"#{i + 1}";
            var mask = panels.Mask[i][..1] * 0.5; // one channel: grey = hidden, black = seen
            var cells = new List<Tensor> { panels.Input[i], panels.Masked[i], mask };
            if (panels.Scored is { } s) cells.Add(s[i][..1] * 0.5);
            for (int c = 0; c < cells.Count; c++)
                sheet[i, c] = rank == 2 ? RgbImage.FromTensor(cells[c]) : Strip(cells[c], axisName, scale);
        }
        sheet.Legend.Add(new LegendEntry("hidden from the encoder (mask column: black = seen)", Color.MaskGrey));
        if (panels.Scored is not null) sheet.Legend.Add(new LegendEntry("loss counts: hidden by the encoder and kept by the decoder"));
        return sheet;
    }

    /// <summary>[C, A, H, W] → one row of A frames/slices, labelled by the axis.</summary>
    static RgbImage Strip(Tensor volume, string axisName, int scale)
    {
        long a = volume.shape[1];
        var frames = Enumerable.Range(0, (int)a).Select(j => RgbImage.FromTensor(volume[.., j])).ToList();
        var labels = Enumerable.Range(0, (int)a).Select(j => $"{axisName}={j}").ToList();
        return Sheet.Row(frames, labels, scale: scale).Render();
    }
}
