using System.Text;

namespace Maskwork.Formats.Geometry;

/// <summary>
/// One decoded cloud: <see cref="Points"/> rows of <see cref="Columns"/> floats, row-major. Columns
/// are always x, y, z first, then whatever else the file carries in this order: normals
/// (nx, ny, nz), colour (r, g, b in [0,1]), intensity.
/// </summary>
public sealed record PointCloudData(float[] Values, int Points, string[] Columns)
{
    public int Width => Columns.Length;

    /// <summary>Keeps only x, y, z.</summary>
    public PointCloudData XyzOnly()
    {
        if (Width == 3) return this;
        var v = new float[Points * 3];
        for (int i = 0; i < Points; i++) Array.Copy(Values, i * Width, v, i * 3, 3);
        return new PointCloudData(v, Points, ["x", "y", "z"]);
    }

    public static readonly string[] Xyz = ["x", "y", "z"];
}

/// <summary>Small parsing helpers shared by the formats.</summary>
static class Parsing
{
    /// <summary>Reads ASCII header lines from the start of <paramref name="bytes"/> until <paramref name="isLast"/> says stop; returns the lines and the offset after the last one.</summary>
    public static (List<string> Lines, int Offset) HeaderLines(string file, byte[] bytes, Func<string, bool> isLast, int maxLines = 4096)
    {
        var lines = new List<string>();
        int pos = 0;
        while (true)
        {
            if (pos >= bytes.Length) throw new GeometryFormatException(file, "the header ends before its last line (truncated or not this format)");
            int end = Array.IndexOf(bytes, (byte)'\n', pos);
            if (end < 0) end = bytes.Length;
            var line = Encoding.ASCII.GetString(bytes, pos, end - pos).TrimEnd('\r');
            pos = Math.Min(bytes.Length, end + 1);
            lines.Add(line);
            if (isLast(line.Trim())) return (lines, pos);
            if (lines.Count > maxLines) throw new GeometryFormatException(file, $"no end of header within {maxLines} lines");
        }
    }

    public static float Float(string file, string token, string where) =>
        float.TryParse(token, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out float v)
            ? v : throw new GeometryFormatException(file, $"'{Shorten(token)}' is not a number ({where})");

    public static int Int(string file, string token, string where) =>
        int.TryParse(token, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int v)
            ? v : throw new GeometryFormatException(file, $"'{Shorten(token)}' is not an integer ({where})");

    static string Shorten(string s) => s.Length > 24 ? s[..24] + "…" : s;

    public static readonly char[] Space = [' ', '\t', '\r'];

    public static string[] Tokens(string line) => line.Split(Space, StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Throws when a coordinate is NaN or infinite.</summary>
    public static void RequireFinite(string file, float[] values, int width)
    {
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i]) && i % width < 3)
                throw new GeometryFormatException(file, $"point {i / width} has a non-finite coordinate");
    }

    /// <summary>An ASCII text body as lines without comments and blanks, each with its 1-based line number.</summary>
    public static IEnumerable<(int Number, string Text)> BodyLines(byte[] bytes, int offset, int firstNumber)
    {
        int number = firstNumber, pos = offset;
        while (pos < bytes.Length)
        {
            int end = Array.IndexOf(bytes, (byte)'\n', pos);
            if (end < 0) end = bytes.Length;
            var line = Encoding.ASCII.GetString(bytes, pos, end - pos);
            pos = end + 1;
            int hash = line.IndexOf('#');
            if (hash >= 0) line = line[..hash];
            if (line.AsSpan().Trim().Length > 0) yield return (number, line);
            number++;
        }
    }
}
