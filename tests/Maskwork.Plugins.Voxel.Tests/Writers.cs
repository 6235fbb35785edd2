using System.Globalization;
using System.IO.Compression;
using System.Text;
using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Formats.Geometry;

namespace Maskwork.Plugins.Voxel.Tests;

/// <summary>Independent writers of the test files (binvox, .npy, .npz, OFF) and shared helpers.</summary>
static class Writers
{
    public static string Shared(string relative)
    {
        foreach (var root in new[] { Path.Combine(AppContext.BaseDirectory, "../../../../../../shared/datasets"), "../shared/datasets" })
        {
            var path = Path.GetFullPath(Path.Combine(root, relative));
            if (File.Exists(path) || Directory.Exists(path)) return path;
        }
        throw new FileNotFoundException($"shared dataset path {relative} not found");
    }

    public static List<Sample> Read(IDatasetReader reader, string path, out DataIssueLog issues, IReadOnlyDictionary<string, string>? options = null, string? split = null)
    {
        var log = new DataIssueLog();
        var spec = new DataSpec(reader.Name, path) { Options = options ?? new Dictionary<string, string>(), Split = split };
        var list = reader.ReadAsync(spec, log, CancellationToken.None).ToBlockingEnumerable().ToList();
        issues = log;
        return list;
    }

    /// <summary>binvox bytes of <paramref name="xzy"/> (file order: x slowest, then z, y fastest), runs of at most 255.</summary>
    public static byte[] Binvox(int nx, int nz, int ny, Func<int, int, int, bool> occupied, string translate = "0 0 0", string scale = "1")
    {
        var body = new List<byte>();
        var values = new List<byte>();
        for (int x = 0; x < nx; x++) for (int z = 0; z < nz; z++) for (int y = 0; y < ny; y++) values.Add(occupied(x, y, z) ? (byte)1 : (byte)0);
        for (int i = 0; i < values.Count;)
        {
            int run = 1;
            while (i + run < values.Count && values[i + run] == values[i] && run < 255) run++;
            body.Add(values[i]); body.Add((byte)run);
            i += run;
        }
        var header = Encoding.ASCII.GetBytes($"#binvox 1\ndim {nx} {nz} {ny}\ntranslate {translate}\nscale {scale}\ndata\n");
        return [.. header, .. body];
    }

    /// <summary>A .npy file: the header dict padded so the data starts at a multiple of 64, as NumPy writes it.</summary>
    public static byte[] Npy(string descr, int[] shape, byte[] data, bool fortran = false, int version = 1)
    {
        string shapeText = shape.Length == 1 ? $"({shape[0]},)" : $"({string.Join(", ", shape)})";
        string dict = $"{{'descr': '{descr}', 'fortran_order': {(fortran ? "True" : "False")}, 'shape': {shapeText}, }}";
        int prefix = version == 1 ? 10 : 12;
        int total = (prefix + dict.Length + 1 + 63) / 64 * 64;
        var header = dict + new string(' ', total - prefix - dict.Length - 1) + "\n";
        var bytes = new List<byte> { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', (byte)version, 0 };
        if (version == 1) bytes.AddRange(BitConverter.GetBytes((ushort)header.Length));
        else bytes.AddRange(BitConverter.GetBytes((uint)header.Length));
        bytes.AddRange(Encoding.Latin1.GetBytes(header));
        bytes.AddRange(data);
        return [.. bytes];
    }

    public static byte[] Npz(IEnumerable<(string Name, byte[] Npy)> members, CompressionLevel level)
    {
        var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
            foreach (var (name, npy) in members)
            {
                using var s = zip.CreateEntry(name + ".npy", level).Open();
                s.Write(npy);
            }
        return ms.ToArray();
    }

    /// <summary>Element bytes of <paramref name="values"/> in C order (or Fortran order of shape) for a dtype name.</summary>
    public static byte[] Elements(float[] values, int[] shape, string descr, bool fortran)
    {
        var order = new int[values.Length];
        if (!fortran) for (int i = 0; i < order.Length; i++) order[i] = i;
        else
        {
            // Position f in Fortran order holds the element whose C index has the same multi-index.
            var strides = new int[shape.Length];
            int acc = 1;
            for (int d = shape.Length - 1; d >= 0; d--) { strides[d] = acc; acc *= shape[d]; }
            for (int f = 0; f < order.Length; f++)
            {
                int rest = f, c = 0;
                for (int d = 0; d < shape.Length; d++) { c += rest % shape[d] * strides[d]; rest /= shape[d]; }
                order[f] = c;
            }
        }
        var bytes = new List<byte>();
        foreach (int i in order)
        {
            float v = values[i];
            byte[] e = descr[1..] switch
            {
                "u1" or "b1" => [(byte)v],
                "f2" => BitConverter.GetBytes((Half)v),
                "f4" => BitConverter.GetBytes(v),
                _ => throw new ArgumentException(descr),
            };
            if (descr[0] == '>') Array.Reverse(e);
            bytes.AddRange(e);
        }
        return [.. bytes];
    }

    /// <summary>A closed triangle mesh of the axis-aligned box [lo, hi]³ (12 triangles, outward winding).</summary>
    public static Mesh Cube(double lo, double hi, float[]? faceRgba = null)
    {
        var v = new List<double>();
        for (int i = 0; i < 8; i++) { v.Add((i & 1) != 0 ? hi : lo); v.Add((i & 2) != 0 ? hi : lo); v.Add((i & 4) != 0 ? hi : lo); }
        int[] quads = [0, 2, 3, 1, 4, 5, 7, 6, 0, 1, 5, 4, 2, 6, 7, 3, 0, 4, 6, 2, 1, 3, 7, 5];
        var t = new List<int>();
        for (int q = 0; q < 6; q++) { int a = quads[q * 4], b = quads[q * 4 + 1], c = quads[q * 4 + 2], d = quads[q * 4 + 3]; t.AddRange([a, b, c, a, c, d]); }
        float[]? colours = faceRgba is null ? null : Enumerable.Range(0, 12).SelectMany(_ => faceRgba).ToArray();
        return new Mesh([.. v], [.. t], null, colours);
    }

    /// <summary>An icosphere of radius 1: the icosahedron subdivided <paramref name="levels"/> times, vertices on the sphere.</summary>
    public static Mesh Sphere(int levels)
    {
        double p = (1 + Math.Sqrt(5)) / 2;
        var verts = new List<double[]> { new[] { -1, p, 0 }, new[] { 1, p, 0 }, new[] { -1, -p, 0 }, new[] { 1, -p, 0 }, new[] { 0, -1, p }, new[] { 0, 1, p },
            new[] { 0, -1, -p }, new[] { 0, 1, -p }, new[] { p, 0, -1 }, new[] { p, 0, 1 }, new[] { -p, 0, -1 }, new[] { -p, 0, 1 } };
        var faces = new List<int[]> { new[] { 0, 11, 5 }, new[] { 0, 5, 1 }, new[] { 0, 1, 7 }, new[] { 0, 7, 10 }, new[] { 0, 10, 11 }, new[] { 1, 5, 9 }, new[] { 5, 11, 4 },
            new[] { 11, 10, 2 }, new[] { 10, 7, 6 }, new[] { 7, 1, 8 }, new[] { 3, 9, 4 }, new[] { 3, 4, 2 }, new[] { 3, 2, 6 }, new[] { 3, 6, 8 }, new[] { 3, 8, 9 },
            new[] { 4, 9, 5 }, new[] { 2, 4, 11 }, new[] { 6, 2, 10 }, new[] { 8, 6, 7 }, new[] { 9, 8, 1 } };
        double[] Unit(double[] a) { double n = Math.Sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]); return [a[0] / n, a[1] / n, a[2] / n]; }
        verts = verts.Select(Unit).ToList();
        for (int l = 0; l < levels; l++)
        {
            var mid = new Dictionary<(int, int), int>();
            int Mid(int a, int b)
            {
                var key = a < b ? (a, b) : (b, a);
                if (mid.TryGetValue(key, out int m)) return m;
                verts.Add(Unit([(verts[a][0] + verts[b][0]) / 2, (verts[a][1] + verts[b][1]) / 2, (verts[a][2] + verts[b][2]) / 2]));
                return mid[key] = verts.Count - 1;
            }
            faces = faces.SelectMany(f => { int a = Mid(f[0], f[1]), b = Mid(f[1], f[2]), c = Mid(f[2], f[0]); return new[] { new[] { f[0], a, c }, new[] { f[1], b, a }, new[] { f[2], c, b }, new[] { a, b, c } }; }).ToList();
        }
        return new Mesh(verts.SelectMany(v => v).ToArray(), faces.SelectMany(f => f).ToArray(), null, null);
    }

    /// <summary>ASCII OFF text of a mesh, with per-face colours (0–255) when it has them.</summary>
    public static string Off(Mesh m)
    {
        var sb = new StringBuilder("OFF\n# written by a test\n").Append($"{m.VertexCount} {m.TriangleCount} 0\n");
        for (int i = 0; i < m.VertexCount; i++) sb.Append(string.Join(' ', Enumerable.Range(0, 3).Select(a => m.Vertices[i * 3 + a].ToString("R", CultureInfo.InvariantCulture)))).Append('\n');
        for (int t = 0; t < m.TriangleCount; t++)
        {
            sb.Append($"3 {m.Triangles[t * 3]} {m.Triangles[t * 3 + 1]} {m.Triangles[t * 3 + 2]}");
            if (m.FaceColors is { } c) sb.Append($" {(int)(c[t * 4] * 255)} {(int)(c[t * 4 + 1] * 255)} {(int)(c[t * 4 + 2] * 255)}");
            sb.Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>PLY bytes of a mesh (float xyz, int32 vertex_indices, uchar per-face colour when it has them) in ascii or binary little/big endian.</summary>
    public static byte[] Ply(Mesh m, string format)
    {
        bool coloured = m.FaceColors is not null;
        var head = $"ply\nformat {format} 1.0\ncomment written by a test\nelement vertex {m.VertexCount}\nproperty float x\nproperty float y\nproperty float z\n" +
                   $"element face {m.TriangleCount}\nproperty list uchar int vertex_indices\n" +
                   (coloured ? "property uchar red\nproperty uchar green\nproperty uchar blue\n" : "") + "end_header\n";
        var ms = new MemoryStream();
        ms.Write(Encoding.ASCII.GetBytes(head));
        byte Channel(int t, int c) => (byte)(int)(m.FaceColors![t * 4 + c] * 255);
        if (format == "ascii")
        {
            var sb = new StringBuilder();
            for (int i = 0; i < m.VertexCount; i++) sb.Append(string.Join(' ', Enumerable.Range(0, 3).Select(a => ((float)m.Vertices[i * 3 + a]).ToString("R", CultureInfo.InvariantCulture)))).Append('\n');
            for (int t = 0; t < m.TriangleCount; t++)
            {
                sb.Append($"3 {m.Triangles[t * 3]} {m.Triangles[t * 3 + 1]} {m.Triangles[t * 3 + 2]}");
                if (coloured) sb.Append($" {Channel(t, 0)} {Channel(t, 1)} {Channel(t, 2)}");
                sb.Append('\n');
            }
            ms.Write(Encoding.ASCII.GetBytes(sb.ToString()));
            return ms.ToArray();
        }
        bool big = format == "binary_big_endian";
        void W(byte[] b) { if (big) Array.Reverse(b); ms.Write(b); }
        for (int i = 0; i < m.VertexCount * 3; i++) W(BitConverter.GetBytes((float)m.Vertices[i]));
        for (int t = 0; t < m.TriangleCount; t++)
        {
            ms.WriteByte(3);
            for (int k = 0; k < 3; k++) W(BitConverter.GetBytes(m.Triangles[t * 3 + k]));
            if (coloured) ms.Write([Channel(t, 0), Channel(t, 1), Channel(t, 2)]);
        }
        return ms.ToArray();
    }
}
