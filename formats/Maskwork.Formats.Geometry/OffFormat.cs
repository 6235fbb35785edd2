namespace Maskwork.Formats.Geometry;

/// <summary>
/// A triangle mesh: <see cref="Vertices"/> [V,3] and <see cref="Triangles"/> [T,3] (vertex indices), with the
/// colours the file carried — per vertex [V,4] and/or per face [T,4], RGBA in [0,1] — or null.
/// </summary>
public sealed record Mesh(double[] Vertices, int[] Triangles, float[]? VertexColors, float[]? FaceColors)
{
    public int VertexCount => Vertices.Length / 3;
    public int TriangleCount => Triangles.Length / 3;
}

/// <summary>
/// The Geomview OFF family (ModelNet's format): the header keyword <c>[ST][C][N][4][n]OFF</c>, then
/// <c>vertices faces edges</c>, the vertices — x y z (a w with <c>4</c>, divided out), then normals with
/// <c>N</c>, a colour with <c>C</c> (r g b [a], 0–1 floats or 0–255 integers), texture coordinates with
/// <c>ST</c>, in that order — and the polygons <c>n i j k … [colour]</c>, fan-triangulated, where the
/// optional face colour is r g b [a] (0–1 or 0–255) or a colour-map index (ignored). Comments (<c>#</c>)
/// and blank lines are skipped anywhere; ModelNet's broken first line <c>OFF490 518 0</c> is accepted.
/// <c>nOFF</c> takes a dimension line and only dimension 3; binary OFF is refused by name.
/// </summary>
public static class OffFormat
{
    /// <summary>Parses a mesh, or throws <see cref="GeometryFormatException"/> naming the file and the line.</summary>
    public static Mesh ReadMesh(string file, byte[] bytes)
    {
        using var lines = Parsing.BodyLines(bytes, 0, 1).GetEnumerator();
        if (!lines.MoveNext()) throw new GeometryFormatException(file, "empty file");
        var head = lines.Current.Text.Trim();
        int off = head.IndexOf("OFF", StringComparison.Ordinal);
        string prefix = off < 0 ? head : head[..off];
        if (off < 0 || !IsPrefix(prefix))
            throw new GeometryFormatException(file, "not an OFF file (it must start with OFF, or a Geomview prefix such as COFF, NOFF, STCNOFF, 4OFF)");
        bool texture = prefix.StartsWith("ST", StringComparison.Ordinal), color = prefix.Contains('C'), normals = prefix.Contains('N'),
            homogeneous = prefix.Contains('4'), ndim = prefix.EndsWith('n');
        string[] rest = Parsing.Tokens(head[(off + 3)..]);
        if (rest.Length > 0 && rest[0] == "BINARY") throw new GeometryFormatException(file, "binary OFF is not supported (convert it to ASCII OFF)");

        var pending = new Queue<string>(rest);
        string Next(string what)
        {
            while (pending.Count == 0)
            {
                if (!lines.MoveNext()) throw new GeometryFormatException(file, $"the file ends before the {what}");
                foreach (var t in Parsing.Tokens(lines.Current.Text)) pending.Enqueue(t);
            }
            return pending.Dequeue();
        }
        if (ndim)
        {
            int dim = Parsing.Int(file, Next("dimension"), "dimension of nOFF");
            if (dim != 3) throw new GeometryFormatException(file, $"nOFF of dimension {dim}: only 3-D meshes are supported");
        }
        int nv = Parsing.Int(file, Next("vertex count"), "vertex count"), nf = Parsing.Int(file, Next("face count"), "face count");
        if (pending.Count > 0) pending.Dequeue();   // the edge count, when on the same line
        if (pending.Count > 0) throw new GeometryFormatException(file, "the counts line needs 'vertices faces [edges]'");
        if (nv <= 0 || nf <= 0 || nv > 50_000_000 || nf > 50_000_000) throw new GeometryFormatException(file, $"implausible counts: {nv} vertices, {nf} faces");

        int coords = homogeneous ? 4 : 3, fixedFields = coords + (normals ? 3 : 0) + (texture ? 2 : 0);
        var vertices = new double[nv * 3];
        float[]? vertexColors = color ? new float[nv * 4] : null;
        for (int i = 0; i < nv; i++)
        {
            if (!lines.MoveNext()) throw new GeometryFormatException(file, $"the file ends after {i} of {nv} vertices (truncated)");
            var (number, text) = lines.Current;
            var t = Parsing.Tokens(text);
            int colorFields = t.Length - fixedFields;
            if (t.Length < fixedFields || (color && colorFields is not (3 or 4)))
                throw new GeometryFormatException(file, $"line {number}: a {prefix}OFF vertex needs {fixedFields}{(color ? " + 3 or 4 colour" : "")} values, found {t.Length}");
            double w = homogeneous ? Parsing.Float(file, t[3], $"line {number}") : 1;
            if (w == 0 || !double.IsFinite(w)) throw new GeometryFormatException(file, $"line {number}: homogeneous coordinate w is {w}");
            for (int a = 0; a < 3; a++)
            {
                float v = Parsing.Float(file, t[a], $"line {number}");
                if (!float.IsFinite(v)) throw new GeometryFormatException(file, $"line {number}: non-finite vertex coordinate");
                vertices[i * 3 + a] = v / w;
            }
            if (vertexColors is not null)
                Color(file, t.AsSpan(coords + (normals ? 3 : 0), colorFields), vertexColors.AsSpan(i * 4, 4), $"line {number}");
        }

        var triangles = new List<int>(nf * 3);
        List<float>? faceColors = null;
        var rgba = new float[4];
        for (int f = 0; f < nf; f++)
        {
            if (!lines.MoveNext()) throw new GeometryFormatException(file, $"the file ends after {f} of {nf} faces (truncated)");
            var (number, text) = lines.Current;
            var t = Parsing.Tokens(text);
            int n = t.Length > 0 ? Parsing.Int(file, t[0], $"line {number}") : 0;
            if (n < 3 || t.Length < 1 + n) throw new GeometryFormatException(file, $"line {number}: a face needs a vertex count ≥ 3 and that many indices");
            int extra = t.Length - 1 - n;
            if (extra is not (0 or 1 or 3 or 4)) throw new GeometryFormatException(file, $"line {number}: {extra} values after the face's indices (a colour is r g b [a] or one colour-map index)");
            var idx = new int[n];
            for (int k = 0; k < n; k++)
            {
                idx[k] = Parsing.Int(file, t[1 + k], $"line {number}");
                if ((uint)idx[k] >= (uint)nv) throw new GeometryFormatException(file, $"line {number}: vertex index {idx[k]} is outside 0..{nv - 1}");
            }
            bool colored = extra >= 3;
            if (colored)
            {
                Color(file, t.AsSpan(1 + n, extra), rgba, $"line {number}");
                faceColors ??= new List<float>(nf * 4 * 2);
                // Faces before the first coloured one get neutral grey.
                while (faceColors.Count < triangles.Count / 3 * 4) faceColors.AddRange([0.5f, 0.5f, 0.5f, 1f]);
            }
            for (int k = 1; k + 1 < n; k++)
            {
                triangles.Add(idx[0]); triangles.Add(idx[k]); triangles.Add(idx[k + 1]);
                if (colored) { foreach (var c in rgba) faceColors!.Add(c); }
                else if (faceColors is not null) faceColors.AddRange([0.5f, 0.5f, 0.5f, 1f]);
            }
        }
        return new Mesh(vertices, [.. triangles], vertexColors, faceColors?.ToArray());
    }

    /// <summary>The OFF-family prefix letters in their order: [ST][C][N][4][n].</summary>
    static bool IsPrefix(string p)
    {
        int i = 0;
        if (p.AsSpan(i).StartsWith("ST")) i += 2;
        if (i < p.Length && p[i] == 'C') i++;
        if (i < p.Length && p[i] == 'N') i++;
        if (i < p.Length && p[i] == '4') i++;
        if (i < p.Length && p[i] == 'n') i++;
        return i == p.Length;
    }

    /// <summary>r g b [a] as 0–1 floats, or as 0–255 integers when any component is above 1.</summary>
    static void Color(string file, ReadOnlySpan<string> tokens, Span<float> rgba, string where)
    {
        if (tokens.Length == 1) { rgba[0] = rgba[1] = rgba[2] = 0.5f; rgba[3] = 1; return; }   // a colour-map index
        float max = 0;
        for (int k = 0; k < tokens.Length; k++)
        {
            rgba[k] = Parsing.Float(file, tokens[k], where);
            if (!(rgba[k] >= 0)) throw new GeometryFormatException(file, $"{where}: colour component '{tokens[k]}' is negative or not a number");
            max = Math.Max(max, rgba[k]);
        }
        if (tokens.Length == 3) rgba[3] = max > 1 ? 255 : 1;
        if (max > 1)
        {
            for (int k = 0; k < 4; k++)
            {
                if (rgba[k] > 255) throw new GeometryFormatException(file, $"{where}: colour component {rgba[k]} is above 255");
                rgba[k] /= 255f;
            }
        }
    }

    /// <summary>A mesh's surface sampled to <paramref name="samples"/> points (x, y, z), seeded: see <see cref="MeshSampling"/>.</summary>
    public static PointCloudData Read(string file, byte[] bytes, int samples, int seed)
    {
        var mesh = ReadMesh(file, bytes);
        return new PointCloudData(MeshSampling.Sample(file, mesh, samples, seed), samples, PointCloudData.Xyz);
    }
}

/// <summary>
/// Uniform surface sampling: triangles are chosen with probability proportional to area, points uniformly
/// inside them (√u barycentrics). Seeded, so the same mesh, count and seed give the same points.
/// </summary>
public static class MeshSampling
{
    /// <summary><paramref name="count"/> points [count,3] on the surface of <paramref name="mesh"/>.</summary>
    public static float[] Sample(string file, Mesh mesh, int count, int seed) => Sample(file, mesh, count, seed, out _);

    /// <summary>As <see cref="Sample(string, Mesh, int, int)"/>, also giving the triangle each point came from.</summary>
    public static float[] Sample(string file, Mesh mesh, int count, int seed, out int[] triangleOfPoint)
    {
        var v = mesh.Vertices;
        var tri = mesh.Triangles;
        int nt = mesh.TriangleCount;
        var cumulative = new double[nt];
        double total = 0;
        for (int i = 0; i < nt; i++)
        {
            int a = tri[i * 3], b = tri[i * 3 + 1], c = tri[i * 3 + 2];
            double ux = v[b * 3] - v[a * 3], uy = v[b * 3 + 1] - v[a * 3 + 1], uz = v[b * 3 + 2] - v[a * 3 + 2];
            double vx = v[c * 3] - v[a * 3], vy = v[c * 3 + 1] - v[a * 3 + 1], vz = v[c * 3 + 2] - v[a * 3 + 2];
            double cx = uy * vz - uz * vy, cy = uz * vx - ux * vz, cz = ux * vy - uy * vx;
            total += 0.5 * Math.Sqrt(cx * cx + cy * cy + cz * cz);
            cumulative[i] = total;
        }
        if (!(total > 0) || !double.IsFinite(total)) throw new GeometryFormatException(file, "the mesh has no surface area to sample");
        var rng = new Random(seed);
        var points = new float[count * 3];
        triangleOfPoint = new int[count];
        for (int p = 0; p < count; p++)
        {
            double pick = rng.NextDouble() * total;
            int t = Array.BinarySearch(cumulative, pick);
            if (t < 0) t = ~t;
            t = Math.Min(t, nt - 1);
            triangleOfPoint[p] = t;
            int a = tri[t * 3], b = tri[t * 3 + 1], c = tri[t * 3 + 2];
            double r1 = Math.Sqrt(rng.NextDouble()), r2 = rng.NextDouble();
            double wa = 1 - r1, wb = r1 * (1 - r2), wc = r1 * r2;
            for (int k = 0; k < 3; k++)
                points[p * 3 + k] = (float)(wa * v[a * 3 + k] + wb * v[b * 3 + k] + wc * v[c * 3 + k]);
        }
        return points;
    }
}
