using System.Globalization;
using Maskwork.Abstractions;
using Maskwork.Backend.Visuals;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Volume.Recipes;

/// <summary>
/// Tri-planar sheets: per crop, three rows — axial, coronal, sagittal slices through the crop centre — of
/// input | masked (hidden patches grey) | reconstruction (predicted masked patches over the visible ones). Slices are
/// shown in RAS, neurological convention (R right; A up in axial, S up in coronal and sagittal). The display window is
/// written on the sheet: the CT window in HU, or for MR the z-score range shown (1st–99th percentile of the inputs).
/// </summary>
public sealed class VolumeRenderer(string intensity, (double Low, double High) window, int scale = 4) : IReconstructionRenderer
{
    public (int Height, int Width, byte[] Rgb) Render(TokenBatch tokens, MaskPlan plan, Tensor reconstruction, ITokenizer tokenizer)
    {
        using var scope = NewDisposeScope();
        var original = tokenizer.Detokenize(tokens.Tokens, tokens).cpu();          // [B, C, Z, Y, X]
        var tokenMask = zeros(tokens.BatchSize, tokens.TokenCount, device: tokens.Tokens.device)
            .scatter_(1, plan.Masked, ones(plan.Masked.shape, device: tokens.Tokens.device)).unsqueeze(-1).expand_as(tokens.Tokens);
        var zero = tokenizer.Detokenize(zeros_like(tokenMask), tokens);
        var one = tokenizer.Detokenize(ones_like(tokenMask), tokens);
        var voxelMask = ((tokenizer.Detokenize(tokenMask, tokens) - zero) / (one - zero)).cpu().round().clamp(0, 1);
        var recon = tokenizer.Detokenize(reconstruction, tokens).cpu();
        var pasted = original * (1 - voxelMask) + recon * voxelMask;

        // Display window: CT values are already the window scaled to [0, 1]; MR z-scores get the inputs' 1–99 % range.
        double lo = 0, hi = 1;
        string windowText;
        if (intensity == "ct") windowText = $"window {window.Low.ToString(CultureInfo.InvariantCulture)} … {window.High.ToString(CultureInfo.InvariantCulture)} HU";
        else
        {
            var flat = original[.., 0].flatten();
            if (flat.numel() > 1 << 22) flat = flat.index_select(0, arange(0, flat.numel(), flat.numel() / (1 << 22) + 1));
            var q = flat.to_type(ScalarType.Float32).quantile(tensor(new[] { 0.01f, 0.99f })).data<float>().ToArray();
            (lo, hi) = (q[0], q[1]);
            if (!(hi > lo)) hi = lo + 1;
            windowText = intensity == "mr"
                ? $"display window z {lo:F2} … {hi:F2} (1st–99th percentile of the inputs)"
                : $"display window {lo:G4} … {hi:G4} (1st–99th percentile)";
        }
        Tensor Show(Tensor x) => ((x - lo) / (hi - lo)).clamp(0, 1);
        var masked = Show(original) * (1 - voxelMask) + 0.5 * voxelMask;
        var columns = new[] { Show(original), masked, Show(pasted) };

        long b = original.shape[0];
        var planes = new[] { "axial", "coronal", "sagittal" };
        var sheet = new Sheet((int)b * 3, 3) { Scale = scale, Title = windowText };
        double hidden = plan.Masked.shape[1] / (double)tokens.TokenCount;
        sheet.ColumnLabels[0] = "input";
        sheet.ColumnLabels[1] = $"masked ({hidden:P0} hidden)";
        sheet.ColumnLabels[2] = "reconstruction";
        for (int i = 0; i < b; i++)
            for (int p = 0; p < 3; p++)
            {
                sheet.RowLabels[i * 3 + p] = $"#{i + 1} {planes[p]}";
                for (int c = 0; c < 3; c++) sheet[i * 3 + p, c] = RgbImage.FromTensor(Slice(columns[c][i, 0], p));
            }
        sheet.Legend.Add(new LegendEntry("hidden from the encoder", Color.MaskGrey));
        sheet.Legend.Add(new LegendEntry("slices through the crop centre, RAS: R right; A up (axial), S up (coronal, sagittal)"));
        var picture = sheet.Render();
        return (picture.Height, picture.Width, picture.Pixels);
    }

    /// <summary>A [Z, Y, X] crop's centre slice as an image [rows, columns]: axial [Y, X], coronal [Z, X], sagittal [Z, Y], top row anterior/superior.</summary>
    public static Tensor Slice(Tensor zyx, int plane) => plane switch
    {
        0 => zyx[zyx.shape[0] / 2].flip(0),
        1 => zyx[.., zyx.shape[1] / 2].flip(0),
        _ => zyx[.., .., zyx.shape[2] / 2].flip(0),
    };
}
