using System.Buffers.Binary;

namespace Maskwork.Formats.Geometry;

/// <summary>
/// PLY (Stanford polygon format): <c>ascii 1.0</c>, <c>binary_little_endian 1.0</c> and
/// <c>binary_big_endian 1.0</c>. Reads the <c>vertex</c> element: x, y, z (required), nx/ny/nz
/// (normals, optional), red/green/blue (colour, optional, 0–255 integers or 0–1 floats). Elements
/// before the vertices (scalar or list properties) are skipped; faces after them are ignored here
/// (<see cref="ReadMesh"/> reads them).
/// </summary>
public static partial class PlyFormat
{
    enum Kind { Int8, UInt8, Int16, UInt16, Int32, UInt32, Float32, Float64 }

    sealed record Property(string Name, Kind Type, Kind? ListCount);
    sealed record Element(string Name, int Count, List<Property> Properties);

    static Kind ParseKind(string file, string t) => t switch
    {
        "char" or "int8" => Kind.Int8,
        "uchar" or "uint8" => Kind.UInt8,
        "short" or "int16" => Kind.Int16,
        "ushort" or "uint16" => Kind.UInt16,
        "int" or "int32" => Kind.Int32,
        "uint" or "uint32" => Kind.UInt32,
        "float" or "float32" => Kind.Float32,
        "double" or "float64" => Kind.Float64,
        _ => throw new GeometryFormatException(file, $"unknown PLY property type '{t}'"),
    };

    static int Size(Kind k) => k switch
    {
        Kind.Int8 or Kind.UInt8 => 1,
        Kind.Int16 or Kind.UInt16 => 2,
        Kind.Int32 or Kind.UInt32 or Kind.Float32 => 4,
        _ => 8,
    };

    public static PointCloudData Read(string file, byte[] bytes) => Read(file, bytes, []);

    /// <summary>
    /// As <see cref="Read(string, byte[])"/>, plus the named scalar vertex properties (e.g. <c>label</c>,
    /// <c>intensity</c>) as extra columns after the usual ones, in the order asked; a property the file lacks is
    /// left out (check <see cref="PointCloudData.Columns"/>).
    /// </summary>
    public static PointCloudData Read(string file, byte[] bytes, IReadOnlyList<string> extraProperties)
    {
        var (format, elements, offset, headerLines) = ParseHeader(file, bytes);
        int vertexIndex = elements.FindIndex(e => e.Name == "vertex");
        if (vertexIndex < 0) throw new GeometryFormatException(file, "PLY file has no 'vertex' element");
        var vertex = elements[vertexIndex];
        if (vertex.Count == 0) throw new GeometryFormatException(file, "PLY file has no vertices");

        // Which property feeds which output column.
        var names = vertex.Properties.Select(p => p.Name).ToList();
        foreach (var axis in PointCloudData.Xyz)
            if (!names.Contains(axis)) throw new GeometryFormatException(file, $"PLY vertex element has no '{axis}' property");
        if (vertex.Properties.Any(p => p.ListCount is not null && names.IndexOf(p.Name) >= 0 && IsWanted(p.Name)))
            throw new GeometryFormatException(file, "PLY vertex coordinates must be scalar properties");
        var columns = new List<string>(PointCloudData.Xyz);
        if (new[] { "nx", "ny", "nz" }.All(names.Contains)) columns.AddRange(["nx", "ny", "nz"]);
        if (new[] { "red", "green", "blue" }.All(names.Contains)) columns.AddRange(["r", "g", "b"]);
        foreach (var extra in extraProperties)
            if (!columns.Contains(extra) && vertex.Properties.Any(p => p.Name == extra && p.ListCount is null)) columns.Add(extra);
        var target = vertex.Properties.Select(p => columns.IndexOf(Column(p.Name))).ToArray();
        var colour = vertex.Properties.Select(p => p.Name is "red" or "green" or "blue" && p.Type is not (Kind.Float32 or Kind.Float64)).ToArray();

        int width = columns.Count;
        var values = new float[(long)vertex.Count * width > int.MaxValue
            ? throw new GeometryFormatException(file, $"{vertex.Count} vertices are too many")
            : vertex.Count * width];
        if (format == "ascii") ReadAscii(file, bytes, offset, headerLines + 1, elements, vertexIndex, target, colour, values, width);
        else ReadBinary(file, bytes, offset, format == "binary_big_endian", elements, vertexIndex, target, colour, values, width);
        Parsing.RequireFinite(file, values, width);
        return new PointCloudData(values, vertex.Count, columns.ToArray());
    }

    /// <summary>The header: body format, elements with their properties, the body's byte offset and the header's line count.</summary>
    static (string Format, List<Element> Elements, int Offset, int LineCount) ParseHeader(string file, byte[] bytes)
    {
        if (bytes.Length < 4 || bytes[0] != 'p' || bytes[1] != 'l' || bytes[2] != 'y' || (bytes[3] != '\n' && bytes[3] != '\r'))
            throw new GeometryFormatException(file, "not a PLY file (it must start with the line 'ply')");
        var (lines, offset) = Parsing.HeaderLines(file, bytes, l => l == "end_header");
        string? format = null;
        var elements = new List<Element>();
        for (int i = 1; i < lines.Count - 1; i++)
        {
            var t = Parsing.Tokens(lines[i]);
            if (t.Length == 0 || t[0] is "comment" or "obj_info") continue;
            switch (t[0])
            {
                case "format" when t.Length >= 3:
                    if (t[2] != "1.0") throw new GeometryFormatException(file, $"PLY version {t[2]} is not supported (1.0 is)");
                    format = t[1];
                    break;
                case "element" when t.Length == 3:
                    int count = Parsing.Int(file, t[2], $"header line {i + 1}");
                    if (count < 0) throw new GeometryFormatException(file, $"element {t[1]} has a negative count");
                    elements.Add(new Element(t[1], count, []));
                    break;
                case "property" when elements.Count > 0 && t.Length == 3:
                    elements[^1].Properties.Add(new Property(t[2], ParseKind(file, t[1]), null));
                    break;
                case "property" when elements.Count > 0 && t.Length == 5 && t[1] == "list":
                    elements[^1].Properties.Add(new Property(t[4], ParseKind(file, t[3]), ParseKind(file, t[2])));
                    break;
                default:
                    throw new GeometryFormatException(file, $"malformed PLY header line {i + 1}: '{lines[i].Trim()}'");
            }
        }
        if (format is not ("ascii" or "binary_little_endian" or "binary_big_endian"))
            throw new GeometryFormatException(file, format is null ? "PLY header has no format line" : $"unknown PLY format '{format}'");
        return (format, elements, offset, lines.Count);
    }

    static bool IsWanted(string name) => name is "x" or "y" or "z";

    static string Column(string property) => property switch
    {
        "red" => "r",
        "green" => "g",
        "blue" => "b",
        _ => property,
    };

    static void ReadAscii(string file, byte[] bytes, int offset, int firstLine, List<Element> elements, int vertexIndex,
        int[] target, bool[] colour, float[] values, int width)
    {
        using var lines = Parsing.BodyLines(bytes, offset, firstLine).GetEnumerator();
        for (int e = 0; e <= vertexIndex; e++)
        {
            var element = elements[e];
            for (int row = 0; row < element.Count; row++)
            {
                if (!lines.MoveNext())
                    throw new GeometryFormatException(file, $"the file ends after {row} of {element.Count} '{element.Name}' rows (truncated)");
                var (number, text) = lines.Current;
                var t = Parsing.Tokens(text);
                if (e < vertexIndex) continue; // skipped element: one row per line
                if (t.Length < element.Properties.Count)
                    throw new GeometryFormatException(file, $"line {number} has {t.Length} values where {element.Properties.Count} vertex properties were declared");
                for (int p = 0, k = 0; p < element.Properties.Count; p++)
                {
                    var prop = element.Properties[p];
                    if (k >= t.Length) throw new GeometryFormatException(file, $"line {number} has too few values for its vertex properties");
                    if (prop.ListCount is not null)
                    {
                        int n = Parsing.Int(file, t[k], $"line {number}");
                        if (n < 0) throw new GeometryFormatException(file, $"line {number} has a negative list length");
                        k += 1 + n;
                        continue;
                    }
                    float v = Parsing.Float(file, t[k++], $"line {number}");
                    if (target[p] >= 0) values[row * width + target[p]] = colour[p] ? v / 255f : v;
                }
            }
        }
    }

    /// <summary>One binary property value at <paramref name="pos"/> (advanced past it); a body that ends first is named as truncated.</summary>
    static double ReadBinaryScalar(string file, byte[] bytes, ref int pos, Kind kind, bool bigEndian)
    {
        int size = Size(kind);
        if (pos + size > bytes.Length) throw new GeometryFormatException(file, $"the binary body ends at byte {bytes.Length} before all declared elements were read (truncated)");
        var s = bytes.AsSpan(pos, size);
        pos += size;
        return kind switch
        {
            Kind.Int8 => (sbyte)s[0],
            Kind.UInt8 => s[0],
            Kind.Int16 => bigEndian ? BinaryPrimitives.ReadInt16BigEndian(s) : BinaryPrimitives.ReadInt16LittleEndian(s),
            Kind.UInt16 => bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(s) : BinaryPrimitives.ReadUInt16LittleEndian(s),
            Kind.Int32 => bigEndian ? BinaryPrimitives.ReadInt32BigEndian(s) : BinaryPrimitives.ReadInt32LittleEndian(s),
            Kind.UInt32 => bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(s) : BinaryPrimitives.ReadUInt32LittleEndian(s),
            Kind.Float32 => bigEndian ? BinaryPrimitives.ReadSingleBigEndian(s) : BinaryPrimitives.ReadSingleLittleEndian(s),
            _ => bigEndian ? BinaryPrimitives.ReadDoubleBigEndian(s) : BinaryPrimitives.ReadDoubleLittleEndian(s),
        };
    }

    static void ReadBinary(string file, byte[] bytes, int offset, bool bigEndian, List<Element> elements, int vertexIndex,
        int[] target, bool[] colour, float[] values, int width)
    {
        int pos = offset;
        double Next(Kind k) => ReadBinaryScalar(file, bytes, ref pos, k, bigEndian);
        for (int e = 0; e <= vertexIndex; e++)
        {
            var element = elements[e];
            for (int row = 0; row < element.Count; row++)
                for (int p = 0; p < element.Properties.Count; p++)
                {
                    var prop = element.Properties[p];
                    if (prop.ListCount is { } countKind)
                    {
                        double n = Next(countKind);
                        if (n < 0 || n > 1 << 20) throw new GeometryFormatException(file, $"a '{prop.Name}' list claims {n} entries");
                        long skip = (long)n * Size(prop.Type);
                        if (pos + skip > bytes.Length) throw new GeometryFormatException(file, "the binary body ends inside a list (truncated)");
                        pos += (int)skip;
                        continue;
                    }
                    double v = Next(prop.Type);
                    if (e == vertexIndex && target[p] >= 0) values[row * width + target[p]] = (float)(colour[p] ? v / 255.0 : v);
                }
        }
    }
}
