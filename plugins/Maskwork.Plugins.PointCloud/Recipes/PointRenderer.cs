using Maskwork.Abstractions;
using Maskwork.Backend.Visuals;
using static TorchSharp.torch;

namespace Maskwork.Plugins.PointCloud.Recipes;

/// <summary>
/// Reconstruction pictures of point clouds: one row per sample; columns INPUT (the normalised cloud),
/// VISIBLE (the groups the encoder saw, masked centres as grey marks) and RECON (visible groups in
/// grey, predicted masked groups in colour), each from two views: an oblique one orbiting the up
/// axis, and one looking down it. Depth-sorted dots, darker when nearer.
/// </summary>
public sealed class PointRenderer(int upAxis = 2, int cell = 112, int maxRows = 8) : IReconstructionRenderer
{
    static readonly (byte, byte, byte) Ink = (40, 40, 40), Faint = (190, 190, 190), Visible = (30, 90, 200), Predicted = (220, 60, 30);

    public (int Height, int Width, byte[] Rgb) Render(TokenBatch tokens, MaskPlan plan, Tensor reconstruction, ITokenizer tokenizer)
    {
        using var scope = NewDisposeScope();
        var positions = tokens.Positions ?? throw new ArgumentException("point tokens need their centres");
        long b = Math.Min(tokens.BatchSize, maxRows), g = tokens.TokenCount;
        long k = tokens.Tokens.shape[2] / 3;
        var groups = (tokens.Tokens.reshape(tokens.BatchSize, g, k, 3) + positions.unsqueeze(2)).cpu().to_type(ScalarType.Float32);
        var recon = (reconstruction.reshape(tokens.BatchSize, g, k, 3) + positions.unsqueeze(2)).cpu().to_type(ScalarType.Float32);
        var cloud = (tokens.Extras.TryGetValue("points", out var p) ? p : groups.reshape(tokens.BatchSize, -1, 3)).cpu().to_type(ScalarType.Float32);
        var visibleIdx = plan.Visible.cpu();
        var maskedIdx = plan.Masked.cpu();
        var centres = positions.cpu().to_type(ScalarType.Float32);

        string[] titles = ["INPUT", "VISIBLE", "RECON"];
        int gap = 4, top = 14, views = 2;
        int width = gap + titles.Length * (views * (cell + gap) + gap), height = top + (int)b * (cell + gap) + gap;
        var canvas = new Canvas(width, height, (255, 255, 255));
        for (int col = 0; col < titles.Length; col++) canvas.Text(gap + col * (views * (cell + gap) + gap), 3, titles[col], (0, 0, 0));

        for (int i = 0; i < b; i++)
        {
            var vis = visibleIdx[i].data<long>().ToArray();
            var msk = maskedIdx[i].data<long>().ToArray();
            var input = Points(cloud[i], Ink);
            var visibleLayer = vis.SelectMany(j => Points(groups[i][j], Visible)).Concat(msk.SelectMany(j => Points(centres[i][j].unsqueeze(0), Faint))).ToList();
            var reconLayer = vis.SelectMany(j => Points(groups[i][j], Faint)).Concat(msk.SelectMany(j => Points(recon[i][j], Predicted))).ToList();
            var layers = new[] { input, visibleLayer, reconLayer };
            for (int col = 0; col < layers.Length; col++)
                for (int v = 0; v < views; v++)
                {
                    int x0 = gap + col * (views * (cell + gap) + gap) + v * (cell + gap), y0 = top + i * (cell + gap);
                    canvas.Fill(x0, y0, cell, cell, (246, 246, 246));
                    Draw(canvas, layers[col], x0, y0, oblique: v == 0);
                }
        }
        return (canvas.Height, canvas.Width, canvas.Pixels);
    }

    static List<(float X, float Y, float Z, (byte R, byte G, byte B) C)> Points(Tensor xyz, (byte, byte, byte) colour)
    {
        var data = xyz.contiguous().data<float>().ToArray();
        var list = new List<(float, float, float, (byte, byte, byte))>(data.Length / 3);
        for (int i = 0; i + 2 < data.Length; i += 3) list.Add((data[i], data[i + 1], data[i + 2], colour));
        return list;
    }

    void Draw(Canvas canvas, List<(float X, float Y, float Z, (byte R, byte G, byte B) C)> points, int x0, int y0, bool oblique)
    {
        int a1 = (upAxis + 1) % 3, a2 = (upAxis + 2) % 3;
        const double yaw = 0.6, pitch = 0.45;
        var projected = new List<(double Sx, double Sy, double Depth, (byte R, byte G, byte B) C)>(points.Count);
        foreach (var p in points)
        {
            float[] v = [p.X, p.Y, p.Z];
            double right = v[a1], forward = v[a2], up = v[upAxis], sx, sy, depth;
            if (oblique)
            {
                double rx = Math.Cos(yaw) * right - Math.Sin(yaw) * forward, rz = Math.Sin(yaw) * right + Math.Cos(yaw) * forward;
                sx = rx;
                sy = Math.Cos(pitch) * up - Math.Sin(pitch) * rz;
                depth = Math.Sin(pitch) * up + Math.Cos(pitch) * rz;
            }
            else { sx = right; sy = forward; depth = -up; }
            projected.Add((sx, sy, depth, p.C));
        }
        double half = cell / 2.0, scale = half * 0.85;
        foreach (var (sx, sy, depth, c) in projected.OrderByDescending(q => q.Depth))
        {
            if (!double.IsFinite(sx) || !double.IsFinite(sy)) continue;
            double shade = Math.Clamp(0.35 * (depth + 1), 0, 0.6); // farther → lighter
            var tone = ((byte)(c.R + (255 - c.R) * shade), (byte)(c.G + (255 - c.G) * shade), (byte)(c.B + (255 - c.B) * shade));
            int px = (int)Math.Round(x0 + half + sx * scale), py = (int)Math.Round(y0 + half - sy * scale);
            if (px < x0 || py < y0 || px >= x0 + cell - 1 || py >= y0 + cell - 1) continue;
            canvas.Fill(px, py, 2, 2, tone);
        }
    }
}
