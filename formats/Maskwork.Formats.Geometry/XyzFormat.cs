
namespace Maskwork.Formats.Geometry;

/// <summary>
/// XYZ text: one point per line, whitespace- or comma-separated, <c>#</c> comments. Three columns are
/// x y z; six are x y z nx ny nz; seven are x y z nx ny nz intensity; four are x y z intensity.
/// Every line must have the same number of columns.
/// </summary>
public static class XyzFormat
{
    public static PointCloudData Read(string file, byte[] bytes)
    {
        var values = new List<float>();
        int width = -1;
        foreach (var (number, text) in Parsing.BodyLines(bytes, 0, 1))
        {
            var t = text.Split([' ', '\t', '\r', ','], StringSplitOptions.RemoveEmptyEntries);
            if (width < 0)
            {
                if (t.Length is not (3 or 4 or 6 or 7)) throw new GeometryFormatException(file, $"line {number} has {t.Length} columns (3, 4, 6 or 7 expected)");
                width = t.Length;
            }
            else if (t.Length != width) throw new GeometryFormatException(file, $"line {number} has {t.Length} columns where earlier lines have {width}");
            foreach (var token in t) values.Add(Parsing.Float(file, token, $"line {number}"));
        }
        if (width < 0) throw new GeometryFormatException(file, "no points in the file");
        var array = values.ToArray();
        Parsing.RequireFinite(file, array, width);
        string[] columns = width switch
        {
            3 => PointCloudData.Xyz,
            4 => ["x", "y", "z", "intensity"],
            6 => ["x", "y", "z", "nx", "ny", "nz"],
            _ => ["x", "y", "z", "nx", "ny", "nz", "intensity"],
        };
        return new PointCloudData(array, array.Length / width, columns);
    }
}

/// <summary>
/// KITTI Velodyne scans (<c>.bin</c>): little-endian float32 records of x, y, z, reflectance. The
/// length must be a non-zero multiple of 16 bytes.
/// </summary>
public static class KittiFormat
{
    public static PointCloudData Read(string file, byte[] bytes)
    {
        if (bytes.Length == 0) throw new GeometryFormatException(file, "empty file");
        if (bytes.Length % 16 != 0) throw new GeometryFormatException(file, $"{bytes.Length} bytes is not a whole number of 16-byte (x, y, z, reflectance) records (truncated?)");
        var values = new float[bytes.Length / 4];
        for (int i = 0; i < values.Length; i++) values[i] = System.Buffers.Binary.BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * 4));
        Parsing.RequireFinite(file, values, 4);
        return new PointCloudData(values, values.Length / 4, ["x", "y", "z", "intensity"]);
    }
}
