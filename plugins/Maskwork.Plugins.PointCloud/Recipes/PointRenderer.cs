using Maskwork.Abstractions;
using Maskwork.Backend.Visuals;
using static TorchSharp.torch;

namespace Maskwork.Plugins.PointCloud.Recipes;

/// <summary>
/// Reconstruction pictures of point clouds: one row per sample; columns input (the normalised cloud),
/// visible (the groups the encoder saw, masked centres as grey marks) and reconstruction (visible
/// groups in grey, predicted masked groups in colour), each from two views: an oblique one orbiting
/// the up axis, and one looking down it. Depth-sorted dots, lighter when farther.
/// </summary>
public sealed class PointRenderer(int upAxis = 2, int cell = 112, int maxRows = 8) : IReconstructionRenderer
{
    static readonly Color Ink = new(40, 40, 40), Faint = new(190, 190, 190), Visible = new(30, 90, 200), Predicted = new(220, 60, 30), Paper = new(246, 246, 246);

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

        string[] titles = ["input", "visible", "reconstruction"];
        string[] views = ["oblique", "top"];
        var sheet = new Sheet((int)b, titles.Length * views.Length);
        for (int col = 0; col < titles.Length; col++)
            for (int v = 0; v < views.Length; v++) sheet.ColumnLabels[col * views.Length + v] = $"{titles[col]}, {views[v]}";

        for (int i = 0; i < b; i++)
        {
            var vis = visibleIdx[i].data<long>().ToArray();
            var msk = maskedIdx[i].data<long>().ToArray();
            var input = Points(cloud[i], Ink);
            var visibleLayer = vis.SelectMany(j => Points(groups[i][j], Visible)).Concat(msk.SelectMany(j => Points(centres[i][j].unsqueeze(0), Faint))).ToList();
            var reconLayer = vis.SelectMany(j => Points(groups[i][j], Faint)).Concat(msk.SelectMany(j => Points(recon[i][j], Predicted))).ToList();
            var layers = new[] { input, visibleLayer, reconLayer };
            sheet.RowLabels[i] = $"#{i + 1}";
            for (int col = 0; col < layers.Length; col++)
                for (int v = 0; v < views.Length; v++)
                    sheet[i, col * views.Length + v] = Views.Dots(cell, Project(layers[col], oblique: v == 0), Paper);
        }
        sheet.Legend.Add(new LegendEntry("input points", Ink));
        sheet.Legend.Add(new LegendEntry("visible groups", Visible));
        sheet.Legend.Add(new LegendEntry("masked centres / visible context", Faint));
        sheet.Legend.Add(new LegendEntry("predicted masked groups", Predicted));
        var picture = sheet.Render();
        return (picture.Height, picture.Width, picture.Pixels);
    }

    static List<(float X, float Y, float Z, Color C)> Points(Tensor xyz, Color colour)
    {
        var data = xyz.contiguous().data<float>().ToArray();
        var list = new List<(float, float, float, Color)>(data.Length / 3);
        for (int i = 0; i + 2 < data.Length; i += 3) list.Add((data[i], data[i + 1], data[i + 2], colour));
        return list;
    }

    /// <summary>Projects to the view plane, far to near, farther points lighter.</summary>
    IEnumerable<Dot> Project(List<(float X, float Y, float Z, Color C)> points, bool oblique)
    {
        int a1 = (upAxis + 1) % 3, a2 = (upAxis + 2) % 3;
        const double yaw = 0.6, pitch = 0.45;
        var projected = new List<(double Sx, double Sy, double Depth, Color C)>(points.Count);
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
        return projected.OrderByDescending(q => q.Depth)
            .Select(q => new Dot((float)q.Sx, (float)q.Sy, q.C.Mix(Color.White, Math.Clamp(0.35 * (q.Depth + 1), 0, 0.6))));
    }
}
