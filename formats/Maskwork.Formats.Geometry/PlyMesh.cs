using System.Globalization;

namespace Maskwork.Formats.Geometry;

public static partial class PlyFormat
{
    /// <summary>
    /// A PLY polygon mesh: the <c>vertex</c> element's x, y, z and, when present, its red/green/blue[/alpha] (integer
    /// types 0–255, float types 0–1) as per-vertex colours; the <c>face</c> element's <c>vertex_indices</c> (or
    /// <c>vertex_index</c>) lists, fan-triangulated, and its red/green/blue[/alpha] as per-face colours. ascii and binary
    /// little/big endian; other elements and properties are skipped. Throws <see cref="GeometryFormatException"/> naming
    /// the file for a truncated body, an index out of range, a face of fewer than 3 vertices or a file without faces.
    /// </summary>
    public static Mesh ReadMesh(string file, byte[] bytes)
    {
        var (format, elements, offset, headerLines) = ParseHeader(file, bytes);
        var vertex = elements.Find(e => e.Name == "vertex") ?? throw new GeometryFormatException(file, "PLY file has no 'vertex' element");
        var face = elements.Find(e => e.Name == "face") ?? throw new GeometryFormatException(file, "PLY file has no 'face' element: it is a point cloud, not a mesh");
        if (vertex.Count == 0 || face.Count == 0) throw new GeometryFormatException(file, $"PLY mesh has {vertex.Count} vertices and {face.Count} faces");
        foreach (var axis in PointCloudData.Xyz)
            if (vertex.Properties.FindIndex(p => p.Name == axis && p.ListCount is null) < 0) throw new GeometryFormatException(file, $"PLY vertex element has no scalar '{axis}' property");
        int indices = face.Properties.FindIndex(p => p.Name is "vertex_indices" or "vertex_index" && p.ListCount is not null);
        if (indices < 0) throw new GeometryFormatException(file, "PLY face element has no 'vertex_indices' list");
        if (face.Properties[indices].Type is Kind.Float32 or Kind.Float64) throw new GeometryFormatException(file, "PLY face indices must be an integer list");

        int nv = vertex.Count;
        var vertices = new double[(long)nv * 3 > int.MaxValue ? throw new GeometryFormatException(file, $"{nv} vertices are too many") : nv * 3];
        float[]? vertexColors = HasColour(vertex) ? Opaque(nv) : null;
        var triangles = new List<int>();
        List<float>? faceColors = HasColour(face) ? new List<float>() : null;
        var rgba = new float[4];
        var body = new Body(file, bytes, offset, headerLines + 1, format);
        foreach (var element in elements)
            for (int row = 0; row < element.Count; row++)
            {
                body.BeginRow(element, row);
                bool isVertex = ReferenceEquals(element, vertex), isFace = ReferenceEquals(element, face);
                rgba[0] = rgba[1] = rgba[2] = 0.5f; rgba[3] = 1;
                int first = triangles.Count;
                foreach (var prop in element.Properties)
                {
                    if (prop.ListCount is { } countKind)
                    {
                        long n = (long)body.Scalar(countKind);
                        if (n < 0 || n > 1 << 20) throw new GeometryFormatException(file, $"{body.Where}: a '{prop.Name}' list claims {n} entries");
                        if (!(isFace && ReferenceEquals(prop, face.Properties[indices]))) { body.Skip(prop.Type, n); continue; }
                        if (n < 3) throw new GeometryFormatException(file, $"{body.Where}: a face needs at least 3 vertices, it has {n}");
                        int i0 = Index(body.Scalar(prop.Type)), previous = Index(body.Scalar(prop.Type));
                        for (long k = 2; k < n; k++)
                        {
                            int next = Index(body.Scalar(prop.Type));
                            triangles.Add(i0); triangles.Add(previous); triangles.Add(next);
                            previous = next;
                        }
                        continue;
                    }
                    double v = body.Scalar(prop.Type);
                    if (isVertex && prop.Name is "x" or "y" or "z")
                    {
                        if (!double.IsFinite(v)) throw new GeometryFormatException(file, $"{body.Where}: vertex {row} has a non-finite coordinate");
                        vertices[row * 3 + (prop.Name[0] - 'x')] = v;
                    }
                    else if ((isVertex || isFace) && ColourSlot(prop.Name) is int slot and >= 0)
                    {
                        float c = (float)(prop.Type is Kind.Float32 or Kind.Float64 ? v : v / 255.0);
                        if (!(c >= 0 && c <= 1)) throw new GeometryFormatException(file, $"{body.Where}: colour '{prop.Name}' = {v} is outside its range");
                        if (isVertex) vertexColors![row * 4 + slot] = c;
                        else rgba[slot] = c;
                    }
                }
                if (isFace && faceColors is not null)
                    for (int t = first; t < triangles.Count; t += 3) faceColors.AddRange(rgba);
            }
        return new Mesh(vertices, [.. triangles], vertexColors, faceColors?.ToArray());

        int Index(double value)
        {
            if (!(value >= 0 && value < nv)) throw new GeometryFormatException(file, $"{body.Where}: vertex index {value} is outside 0..{nv - 1}");
            return (int)value;
        }
    }

    static bool HasColour(Element e) => new[] { "red", "green", "blue" }.All(c => e.Properties.Any(p => p.Name == c && p.ListCount is null));

    static int ColourSlot(string name) => name switch { "red" => 0, "green" => 1, "blue" => 2, "alpha" => 3, _ => -1 };

    static float[] Opaque(int n)
    {
        var c = new float[n * 4];
        for (int i = 0; i < n; i++) c[i * 4 + 3] = 1;
        return c;
    }

    /// <summary>The body, value by value in declaration order: one line per row in ascii, packed bytes in binary.</summary>
    sealed class Body(string file, byte[] bytes, int offset, int firstLine, string format)
    {
        readonly IEnumerator<(int Number, string Text)>? lines = format == "ascii" ? Parsing.BodyLines(bytes, offset, firstLine).GetEnumerator() : null;
        readonly bool bigEndian = format == "binary_big_endian";
        int pos = offset, k, number;
        string[] tokens = [];

        /// <summary>Where the reader is, for messages: a line (ascii) or a byte offset (binary).</summary>
        public string Where => lines is null ? $"byte {pos}" : $"line {number}";

        public void BeginRow(Element element, int row)
        {
            if (lines is null) return;
            if (!lines.MoveNext()) throw new GeometryFormatException(file, $"the file ends after {row} of {element.Count} '{element.Name}' rows (truncated)");
            (number, var text) = lines.Current;
            tokens = Parsing.Tokens(text);
            k = 0;
        }

        public double Scalar(Kind kind)
        {
            if (lines is not null)
            {
                if (k >= tokens.Length) throw new GeometryFormatException(file, $"line {number} has too few values for its declared properties");
                var t = tokens[k++];
                // A value declared float is that float (as the binary body would hold it), not the nearest double.
                return double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? kind == Kind.Float32 ? (float)v : v
                    : throw new GeometryFormatException(file, $"line {number}: '{(t.Length > 24 ? t[..24] + "…" : t)}' is not a number");
            }
            return ReadBinaryScalar(file, bytes, ref pos, kind, bigEndian);
        }

        public void Skip(Kind kind, long n)
        {
            if (lines is not null)
            {
                if (k + n > tokens.Length) throw new GeometryFormatException(file, $"line {number} has too few values for its declared properties");
                k += (int)n;
                return;
            }
            long skip = n * Size(kind);
            if (pos + skip > bytes.Length) throw new GeometryFormatException(file, "the binary body ends inside a list (truncated)");
            pos += (int)skip;
        }
    }
}
