using Maskwork.Abstractions;
using Maskwork.Backend.Visuals;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Voxel.Recipes;

/// <summary>
/// Shaded isometric views of the occupied voxels, one row per sample: input | masked (the voxels of the visible patches
/// only) | reconstruction (visible voxels, plus the masked patches' voxels predicted occupied — probability or α above
/// 0.5 — drawn in orange for occupancy grids, in their predicted colour for RGB-α). Each voxel is a cube seen from
/// (+x, +y, +up): top, left and right faces shaded 1.0, 0.78, 0.6; painted back to front, so nearer cubes hide farther ones.
/// </summary>
public sealed class VoxelRenderer(int cell = 3) : IReconstructionRenderer
{
    static readonly Color Body = new(96, 140, 190);
    static readonly Color Predicted = Color.Orange;

    public (int Height, int Width, byte[] Rgb) Render(TokenBatch tokens, MaskPlan plan, Tensor reconstruction, ITokenizer tokenizer)
    {
        using var scope = NewDisposeScope();
        var input = tokenizer.Detokenize(tokens.Tokens, tokens).cpu();                    // [B, C, S, S, S]
        var tokenMask = zeros(tokens.BatchSize, tokens.TokenCount, device: tokens.Tokens.device)
            .scatter_(1, plan.Masked, ones(plan.Masked.shape, device: tokens.Tokens.device)).unsqueeze(-1).expand_as(tokens.Tokens).contiguous();
        var zero = tokenizer.Detokenize(zeros_like(tokenMask), tokens);
        var one = tokenizer.Detokenize(ones_like(tokenMask), tokens);
        var hidden = ((tokenizer.Detokenize(tokenMask, tokens) - zero) / (one - zero)).cpu().round().clamp(0, 1).select(1, 0);   // [B, S, S, S]
        var recon = tokenizer.Detokenize(reconstruction, tokens).cpu();
        long b = input.shape[0], channels = input.shape[1];
        bool rgba = channels == 4;
        var occupied = (rgba ? input.select(1, 3) : input.select(1, 0)).gt(0.5);
        var predicted = (rgba ? recon.select(1, 3) : recon.select(1, 0)).gt(0.5).logical_and(hidden.gt(0));
        var visible = occupied.logical_and(hidden.eq(0));

        var sheet = new Sheet((int)b, 3);
        double share = plan.MaskedCount / (double)tokens.TokenCount;
        sheet.ColumnLabels[0] = "input";
        sheet.ColumnLabels[1] = $"masked ({share:P0} of patches hidden)";
        sheet.ColumnLabels[2] = "reconstruction (p > 0.5)";
        for (int i = 0; i < b; i++)
        {
            var colour = rgba ? input[i].narrow(0, 0, 3) : null;
            var predictedColour = rgba ? recon[i].narrow(0, 0, 3) : null;
            sheet.RowLabels[i] = $"#{i + 1} {occupied[i].sum().item<long>()} voxels";
            sheet[i, 0] = Isometric(occupied[i], colour, null, null, cell);
            sheet[i, 1] = Isometric(visible[i], colour, null, null, cell);
            sheet[i, 2] = Isometric(visible[i], colour, predicted[i], predictedColour, cell);
        }
        if (!rgba) sheet.Legend.Add(new LegendEntry("voxel (shown)", Body));
        sheet.Legend.Add(new LegendEntry(rgba ? "predicted voxels in masked patches, in their predicted colour" : "predicted in masked patches", rgba ? null : Predicted));
        sheet.Legend.Add(new LegendEntry("seen from (+x, +y, above); grid axis 0 is up"));
        var picture = sheet.Render();
        return (picture.Height, picture.Width, picture.Pixels);
    }

    /// <summary>
    /// An isometric picture of the occupied cells of <paramref name="shown"/> [S, S, S] (axis 0 up), coloured by
    /// <paramref name="rgb"/> [3, S, S, S] or a fixed body colour, with the cells of <paramref name="extra"/> in
    /// <paramref name="extraRgb"/> or orange.
    /// </summary>
    public static RgbImage Isometric(Tensor shown, Tensor? rgb, Tensor? extra, Tensor? extraRgb, int a = 3)
    {
        int S = (int)shown.shape[0];
        int width = 2 * S * a + 2 * a, height = 2 * S * a + 2 * a;
        var image = new RgbImage(width, height, Color.White);
        var cells = new List<(int Z, int Y, int X, Color C)>();
        void Collect(Tensor mask, Tensor? colours, Color fallback)
        {
            var idx = mask.nonzero();
            if (idx.shape[0] == 0) return;
            var zyx = idx.to_type(ScalarType.Int32).contiguous().data<int>().ToArray();
            float[]? c = colours is null ? null : colours.permute(1, 2, 3, 0).reshape(-1, 3).index_select(0, mask.flatten().nonzero().squeeze(1)).contiguous().data<float>().ToArray();
            for (int j = 0; j < zyx.Length / 3; j++)
            {
                var col = c is null ? fallback : new Color(Byte(c[j * 3]), Byte(c[j * 3 + 1]), Byte(c[j * 3 + 2]));
                cells.Add((zyx[j * 3], zyx[j * 3 + 1], zyx[j * 3 + 2], col));
            }
        }
        Collect(shown, rgb, Body);
        if (extra is not null) Collect(extra, extraRgb, Predicted);
        // Back to front: larger x + y + z is nearer the viewer.
        cells.Sort((p, q) => (p.X + p.Y + p.Z).CompareTo(q.X + q.Y + q.Z));
        var sprite = Sprite(a);
        var pixels = image.Pixels;
        foreach (var (z, y, x, c) in cells)
        {
            // Screen position of the cube's top-back corner: u = (x − y)·a, v = (x + y)·a/2 − z·a.
            int u0 = (x - y) * a + S * a, v0 = (x + y) * a / 2 - z * a + S * a;
            for (int sy = 0; sy < 2 * a; sy++)
                for (int sx = 0; sx < 2 * a; sx++)
                {
                    int face = sprite[sy, sx];
                    if (face == 0) continue;
                    int px = u0 + sx - a, py = v0 + sy;
                    if ((uint)px >= width || (uint)py >= height) continue;
                    double shade = face switch { 1 => 1.0, 2 => 0.78, _ => 0.6 };
                    if (sx == 0 || sy == 2 * a - 1 || sprite[sy, Math.Max(0, sx - 1)] != face) shade *= 0.9;
                    int o = (py * width + px) * 3;
                    pixels[o] = (byte)(c.R * shade); pixels[o + 1] = (byte)(c.G * shade); pixels[o + 2] = (byte)(c.B * shade);
                }
        }
        return image;
    }

    static byte Byte(float v) => (byte)Math.Clamp(Math.Round(v * 255), 0, 255);

    /// <summary>A unit cube's footprint 2a × 2a: 1 = top face, 2 = left (+y) face, 3 = right (+x) face, 0 = none.</summary>
    static int[,] Sprite(int a)
    {
        var s = new int[2 * a, 2 * a];
        for (int py = 0; py < 2 * a; py++)
            for (int px = 0; px < 2 * a; px++)
            {
                double u = px + 0.5 - a, v = py + 0.5;    // u ∈ [−a, a], v ∈ [0, 2a]: top corner (back) at v = 0
                double top = Math.Abs(u) / 2;             // the top diamond spans v ∈ [|u|/2, a − |u|/2]
                if (v >= top && v <= a - top) s[py, px] = 1;
                else if (v > a - top && v <= 2 * a - top) s[py, px] = u < 0 ? 2 : 3;
            }
        return s;
    }
}
