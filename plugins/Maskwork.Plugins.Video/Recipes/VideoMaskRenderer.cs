using Maskwork.Abstractions;
using Maskwork.Backend.Masking;
using Maskwork.Backend.Visuals;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Video.Recipes;

/// <summary>
/// <c>maskwork masks</c> for clips, as frame strips: per sample the rows input, masked (hidden tubelets grey),
/// the encoder's mask (grey = hidden, black = seen; a tube mask is the same in every frame) and, with a
/// decoder mask, the tubelets the loss counts (hidden by the encoder and kept by the running cell, which
/// moves from frame to frame); one column per frame. The panels are the backend's <see cref="MaskPicture"/>.
/// </summary>
public sealed class VideoMaskRenderer(int scale = 2) : IMaskRenderer
{
    public (int Height, int Width, byte[] Rgb) Render(TokenBatch tokens, MaskPlan plan, ITokenizer tokenizer)
    {
        using var scope = NewDisposeScope();
        var p = MaskPicture.Compute(tokens, plan, tokenizer); // each [B,C,F,H,W] in [0,1]
        var rows = new List<(string Name, Tensor Panel)> { ("input", p.Input), ("masked", p.Masked), ("encoder mask", p.Mask[.., ..1] * 0.5) };
        if (p.Scored is { } scored) rows.Add(("loss counts", scored[.., ..1] * 0.5));
        int b = (int)p.Input.shape[0], frames = (int)p.Input.shape[2];
        var sheet = new Sheet(b * rows.Count, frames)
        {
            Scale = scale,
            Title = $"{plan.MaskedCount} of {tokens.TokenCount} tubelets hidden" + (plan.DecoderTargets is { } d ? $"; the decoder keeps {d.shape[1]}" : ""),
        };
        for (int f = 0; f < frames; f++) sheet.ColumnLabels[f] = $"frame {f}";
        for (int i = 0; i < b; i++)
            for (int r = 0; r < rows.Count; r++)
            {
                sheet.RowLabels[i * rows.Count + r] = $"#{i + 1} {rows[r].Name}";
                for (int f = 0; f < frames; f++) sheet[i * rows.Count + r, f] = RgbImage.FromTensor(rows[r].Panel[i][.., f]);
            }
        sheet.Legend.Add(new LegendEntry("hidden from the encoder (mask rows: black = seen)", Color.MaskGrey));
        if (p.Scored is not null) sheet.Legend.Add(new LegendEntry("loss counts (grey): hidden by the encoder and kept by the decoder's running cell"));
        var picture = sheet.Render();
        return (picture.Height, picture.Width, picture.Pixels);
    }
}
