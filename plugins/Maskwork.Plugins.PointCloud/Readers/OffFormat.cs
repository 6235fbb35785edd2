using Maskwork.Abstractions;

namespace Maskwork.Plugins.PointCloud.Readers;

/// <summary>
/// OFF meshes (Geomview; ModelNet's format): <c>OFF</c>, then <c>vertices faces edges</c>, the
/// vertices and polygons (fan-triangulated). The surface is sampled uniformly: triangles are chosen
/// with probability proportional to area, points uniformly inside them (√u barycentrics). The
/// sampling is seeded, so the same file, count and seed give the same points. Also accepts
/// ModelNet's broken first line <c>OFF490 518 0</c>.
/// </summary>
public static class OffFormat
{
    public static PointCloudData Read(string file, byte[] bytes, int samples, int seed)
    {
        using var lines = Parsing.BodyLines(bytes, 0, 1).GetEnumerator();
        if (!lines.MoveNext()) throw new InvalidDataFileException(file, "empty file");
        var head = lines.Current.Text.Trim();
        if (!head.StartsWith("OFF", StringComparison.Ordinal)) throw new InvalidDataFileException(file, "not an OFF file (it must start with 'OFF')");
        string[] counts = Parsing.Tokens(head[3..]);
        if (counts.Length == 0)
        {
            if (!lines.MoveNext()) throw new InvalidDataFileException(file, "the file ends before the vertex and face counts");
            counts = Parsing.Tokens(lines.Current.Text);
        }
        if (counts.Length < 2) throw new InvalidDataFileException(file, "the counts line needs 'vertices faces [edges]'");
        int nv = Parsing.Int(file, counts[0], "vertex count"), nf = Parsing.Int(file, counts[1], "face count");
        if (nv <= 0 || nf <= 0 || nv > 50_000_000 || nf > 50_000_000) throw new InvalidDataFileException(file, $"implausible counts: {nv} vertices, {nf} faces");

        var vertices = new double[nv * 3];
        for (int i = 0; i < nv; i++)
        {
            if (!lines.MoveNext()) throw new InvalidDataFileException(file, $"the file ends after {i} of {nv} vertices (truncated)");
            var (number, text) = lines.Current;
            var t = Parsing.Tokens(text);
            if (t.Length < 3) throw new InvalidDataFileException(file, $"line {number}: a vertex needs 3 coordinates, found {t.Length}");
            for (int a = 0; a < 3; a++)
            {
                float v = Parsing.Float(file, t[a], $"line {number}");
                if (!float.IsFinite(v)) throw new InvalidDataFileException(file, $"line {number}: non-finite vertex coordinate");
                vertices[i * 3 + a] = v;
            }
        }

        var triangles = new List<(int A, int B, int C)>(nf);
        for (int f = 0; f < nf; f++)
        {
            if (!lines.MoveNext()) throw new InvalidDataFileException(file, $"the file ends after {f} of {nf} faces (truncated)");
            var (number, text) = lines.Current;
            var t = Parsing.Tokens(text);
            int n = t.Length > 0 ? Parsing.Int(file, t[0], $"line {number}") : 0;
            if (n < 3 || t.Length < 1 + n) throw new InvalidDataFileException(file, $"line {number}: a face needs a vertex count ≥ 3 and that many indices");
            var idx = new int[n];
            for (int k = 0; k < n; k++)
            {
                idx[k] = Parsing.Int(file, t[1 + k], $"line {number}");
                if ((uint)idx[k] >= (uint)nv) throw new InvalidDataFileException(file, $"line {number}: vertex index {idx[k]} is outside 0..{nv - 1}");
            }
            for (int k = 1; k + 1 < n; k++) triangles.Add((idx[0], idx[k], idx[k + 1]));
        }
        return new PointCloudData(Sample(file, vertices, triangles, samples, seed), samples, PointCloudData.Xyz);
    }

    /// <summary>Area-weighted uniform surface sampling of <paramref name="count"/> points.</summary>
    public static float[] Sample(string file, double[] vertices, IReadOnlyList<(int A, int B, int C)> triangles, int count, int seed)
    {
        var cumulative = new double[triangles.Count];
        double total = 0;
        for (int i = 0; i < triangles.Count; i++)
        {
            var (a, b, c) = triangles[i];
            double ux = vertices[b * 3] - vertices[a * 3], uy = vertices[b * 3 + 1] - vertices[a * 3 + 1], uz = vertices[b * 3 + 2] - vertices[a * 3 + 2];
            double vx = vertices[c * 3] - vertices[a * 3], vy = vertices[c * 3 + 1] - vertices[a * 3 + 1], vz = vertices[c * 3 + 2] - vertices[a * 3 + 2];
            double cx = uy * vz - uz * vy, cy = uz * vx - ux * vz, cz = ux * vy - uy * vx;
            total += 0.5 * Math.Sqrt(cx * cx + cy * cy + cz * cz);
            cumulative[i] = total;
        }
        if (!(total > 0) || !double.IsFinite(total)) throw new InvalidDataFileException(file, "the mesh has no surface area to sample");
        var rng = new Random(seed);
        var points = new float[count * 3];
        for (int p = 0; p < count; p++)
        {
            double pick = rng.NextDouble() * total;
            int t = Array.BinarySearch(cumulative, pick);
            if (t < 0) t = ~t;
            t = Math.Min(t, triangles.Count - 1);
            var (a, b, c) = triangles[t];
            double r1 = Math.Sqrt(rng.NextDouble()), r2 = rng.NextDouble();
            double wa = 1 - r1, wb = r1 * (1 - r2), wc = r1 * r2;
            for (int k = 0; k < 3; k++)
                points[p * 3 + k] = (float)(wa * vertices[a * 3 + k] + wb * vertices[b * 3 + k] + wc * vertices[c * 3 + k]);
        }
        return points;
    }
}
