using System.Buffers.Binary;

namespace Maskwork.Formats.Geometry;

/// <summary>
/// PCL's PCD format, versions 0.5–0.7: <c>DATA ascii</c>, <c>binary</c> (row-major records) and
/// <c>binary_compressed</c> (LZF-compressed, field-major). Reads x, y, z (required),
/// normal_x/y/z, packed rgb/rgba and intensity; other fields (and padding "_") are skipped. Points
/// whose coordinates are NaN (PCL's marker for invalid points in unorganised and organised clouds)
/// are dropped; a cloud left empty is rejected.
/// </summary>
public static class PcdFormat
{
    sealed record Field(string Name, int Size, char Type, int Count)
    {
        public int Bytes => Size * Count;
    }

    public static PointCloudData Read(string file, byte[] bytes)
    {
        var (lines, offset) = Parsing.HeaderLines(file, bytes, l => l.StartsWith("DATA", StringComparison.Ordinal));
        var header = new Dictionary<string, string[]>(StringComparer.Ordinal);
        for (int i = 0; i < lines.Count; i++)
        {
            var t = Parsing.Tokens(lines[i]);
            if (t.Length == 0 || t[0].StartsWith('#')) continue;
            if (t[0] is not ("VERSION" or "FIELDS" or "SIZE" or "TYPE" or "COUNT" or "WIDTH" or "HEIGHT" or "VIEWPOINT" or "POINTS" or "DATA"))
                throw new GeometryFormatException(file, $"unknown PCD header entry '{t[0]}' on line {i + 1} (not a PCD file?)");
            header[t[0]] = t[1..];
        }
        string[] Need(string key) => header.TryGetValue(key, out var v) && v.Length > 0 ? v : throw new GeometryFormatException(file, $"PCD header has no {key} line");
        var names = Need("FIELDS");
        var sizes = Need("SIZE");
        var types = Need("TYPE");
        var counts = header.TryGetValue("COUNT", out var c) ? c : Enumerable.Repeat("1", names.Length).ToArray();
        if (sizes.Length != names.Length || types.Length != names.Length || counts.Length != names.Length)
            throw new GeometryFormatException(file, $"PCD header lists {names.Length} FIELDS but {sizes.Length} SIZE, {types.Length} TYPE and {counts.Length} COUNT entries");
        var fields = new Field[names.Length];
        for (int f = 0; f < names.Length; f++)
        {
            int size = Parsing.Int(file, sizes[f], "SIZE"), count = Parsing.Int(file, counts[f], "COUNT");
            char type = types[f].Length == 1 ? types[f][0] : '?';
            bool valid = type switch { 'F' => size is 4 or 8, 'I' or 'U' => size is 1 or 2 or 4 or 8, _ => false };
            if (!valid || count <= 0) throw new GeometryFormatException(file, $"PCD field '{names[f]}' has an invalid SIZE/TYPE/COUNT ({sizes[f]} {types[f]} {counts[f]})");
            fields[f] = new Field(names[f], size, type, count);
        }
        int width = Parsing.Int(file, Need("WIDTH")[0], "WIDTH"), height = header.TryGetValue("HEIGHT", out var h) && h.Length > 0 ? Parsing.Int(file, h[0], "HEIGHT") : 1;
        if (width <= 0 || height <= 0) throw new GeometryFormatException(file, $"PCD WIDTH {width} × HEIGHT {height} is empty");
        long declared = (long)width * height;
        if (header.TryGetValue("POINTS", out var p) && p.Length > 0 && Parsing.Int(file, p[0], "POINTS") != declared)
            throw new GeometryFormatException(file, $"PCD POINTS {p[0]} disagrees with WIDTH × HEIGHT = {declared}");
        if (declared > 100_000_000) throw new GeometryFormatException(file, $"PCD declares {declared} points (too many)");
        int points = (int)declared;

        int Index(string name) => Array.FindIndex(fields, f => f.Name == name && f.Count == 1);
        int[] xyz = PointCloudData.Xyz.Select(Index).ToArray();
        if (xyz.Any(i => i < 0)) throw new GeometryFormatException(file, "PCD file has no scalar x, y and z fields");
        var normals = new[] { "normal_x", "normal_y", "normal_z" }.Select(Index).ToArray();
        int rgb = Index("rgb") is >= 0 and var r ? r : Index("rgba");
        int intensity = Index("intensity");
        var columns = new List<string>(PointCloudData.Xyz);
        var sources = new List<(int Field, int Byte)>(xyz.Select(i => (i, -1)));
        if (normals.All(i => i >= 0)) { columns.AddRange(["nx", "ny", "nz"]); sources.AddRange(normals.Select(i => (i, -1))); }
        if (rgb >= 0 && fields[rgb].Size == 4) { columns.AddRange(["r", "g", "b"]); sources.AddRange([(rgb, 2), (rgb, 1), (rgb, 0)]); }
        if (intensity >= 0) { columns.Add("intensity"); sources.Add((intensity, -1)); }
        int outWidth = columns.Count;
        var values = new float[(long)points * outWidth];

        var kind = Need("DATA")[0];
        switch (kind)
        {
            case "ascii": ReadAscii(file, bytes, offset, lines.Count + 1, fields, sources, points, values, outWidth); break;
            case "binary":
            {
                int stride = fields.Sum(f => f.Bytes);
                if ((long)points * stride > bytes.Length - offset)
                    throw new GeometryFormatException(file, $"binary body has {bytes.Length - offset} bytes where {points} points × {stride} bytes were declared (truncated)");
                var fieldOffsets = Offsets(fields);
                Fill(fields, sources, points, values, outWidth, (f, i) => offset + i * stride + fieldOffsets[f], bytes);
                break;
            }
            case "binary_compressed":
            {
                if (bytes.Length - offset < 8) throw new GeometryFormatException(file, "binary_compressed body is missing its size words (truncated)");
                uint compressed = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(offset)), raw = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(offset + 4));
                int stride = fields.Sum(f => f.Bytes);
                if (raw != (long)points * stride)
                    throw new GeometryFormatException(file, $"binary_compressed body declares {raw} bytes uncompressed where {points} points × {stride} bytes were expected");
                if (compressed > bytes.Length - offset - 8)
                    throw new GeometryFormatException(file, $"binary_compressed body declares {compressed} compressed bytes but only {bytes.Length - offset - 8} follow (truncated)");
                byte[] data;
                try { data = Lzf.Decompress(bytes.AsSpan(offset + 8, (int)compressed), (int)raw); }
                catch (InvalidDataException e) { throw new GeometryFormatException(file, $"corrupt LZF data: {e.Message}", e); }
                // Field-major: all x, then all y, …
                var starts = new int[fields.Length];
                for (int f = 1; f < fields.Length; f++) starts[f] = starts[f - 1] + points * fields[f - 1].Bytes;
                Fill(fields, sources, points, values, outWidth, (f, i) => starts[f] + i * fields[f].Bytes, data);
                break;
            }
            default: throw new GeometryFormatException(file, $"unknown PCD DATA kind '{kind}' (ascii, binary, binary_compressed)");
        }
        return DropInvalid(file, values, points, columns.ToArray());
    }

    static int[] Offsets(Field[] fields)
    {
        var o = new int[fields.Length];
        for (int f = 1; f < fields.Length; f++) o[f] = o[f - 1] + fields[f - 1].Bytes;
        return o;
    }

    static void Fill(Field[] fields, List<(int Field, int Byte)> sources, int points, float[] values, int outWidth, Func<int, int, int> at, byte[] data)
    {
        for (int i = 0; i < points; i++)
            for (int c = 0; c < sources.Count; c++)
            {
                var (f, colourByte) = sources[c];
                int pos = at(f, i);
                values[(long)i * outWidth + c] = colourByte >= 0 ? data[pos + colourByte] / 255f : Scalar(fields[f], data.AsSpan(pos));
            }
    }

    static float Scalar(Field f, ReadOnlySpan<byte> s) => (f.Type, f.Size) switch
    {
        ('F', 4) => BinaryPrimitives.ReadSingleLittleEndian(s),
        ('F', _) => (float)BinaryPrimitives.ReadDoubleLittleEndian(s),
        ('I', 1) => (sbyte)s[0],
        ('I', 2) => BinaryPrimitives.ReadInt16LittleEndian(s),
        ('I', 4) => BinaryPrimitives.ReadInt32LittleEndian(s),
        ('I', _) => BinaryPrimitives.ReadInt64LittleEndian(s),
        ('U', 1) => s[0],
        ('U', 2) => BinaryPrimitives.ReadUInt16LittleEndian(s),
        ('U', 4) => BinaryPrimitives.ReadUInt32LittleEndian(s),
        _ => BinaryPrimitives.ReadUInt64LittleEndian(s),
    };

    static void ReadAscii(string file, byte[] bytes, int offset, int firstLine, Field[] fields, List<(int Field, int Byte)> sources, int points, float[] values, int outWidth)
    {
        // Value index of each field's first entry on a line.
        var first = new int[fields.Length];
        for (int f = 1; f < fields.Length; f++) first[f] = first[f - 1] + fields[f - 1].Count;
        int perLine = first[^1] + fields[^1].Count, i = 0;
        foreach (var (number, text) in Parsing.BodyLines(bytes, offset, firstLine))
        {
            if (i == points) throw new GeometryFormatException(file, $"line {number}: more point lines than the {points} declared");
            var t = Parsing.Tokens(text);
            if (t.Length != perLine) throw new GeometryFormatException(file, $"line {number} has {t.Length} values where {perLine} were declared");
            for (int c = 0; c < sources.Count; c++)
            {
                var (f, colourByte) = sources[c];
                if (colourByte >= 0)
                {
                    // Packed colour: written as a float whose bits are 0x00RRGGBB, or as an unsigned integer.
                    uint bits = fields[f].Type == 'F'
                        ? BitConverter.SingleToUInt32Bits(Parsing.Float(file, t[first[f]], $"line {number}"))
                        : (uint)Parsing.Float(file, t[first[f]], $"line {number}");
                    values[(long)i * outWidth + c] = (bits >> (8 * colourByte) & 0xff) / 255f;
                }
                else values[(long)i * outWidth + c] = Parsing.Float(file, t[first[f]], $"line {number}");
            }
            i++;
        }
        if (i != points) throw new GeometryFormatException(file, $"the file has {i} point lines where {points} were declared (truncated)");
    }

    static PointCloudData DropInvalid(string file, float[] values, int points, string[] columns)
    {
        int width = columns.Length, kept = 0;
        for (int i = 0; i < points; i++)
        {
            int o = i * width;
            if (!float.IsFinite(values[o]) || !float.IsFinite(values[o + 1]) || !float.IsFinite(values[o + 2])) continue;
            if (kept != i) Array.Copy(values, o, values, kept * width, width);
            kept++;
        }
        if (kept == 0) throw new GeometryFormatException(file, $"none of the {points} points has finite coordinates");
        return new PointCloudData(kept == points ? values : values[..(kept * width)], kept, columns);
    }
}
