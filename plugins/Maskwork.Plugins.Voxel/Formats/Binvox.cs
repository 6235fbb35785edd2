using System.Globalization;
using System.Text;

namespace Maskwork.Plugins.Voxel.Formats;

/// <summary>
/// A binvox grid: <see cref="Occupancy"/> in file order [X, Z, Y] flattened (binvox's order: y runs fastest, then z,
/// then x) as 0/1 bytes, with the header's <c>dim</c> (d h w), <c>translate</c> and <c>scale</c>.
/// </summary>
public sealed record BinvoxGrid(int[] Dims, double[] Translate, double Scale, byte[] Occupancy);


/// <summary>
/// Patrick Min's binvox format (ShapeNet's voxels): an ASCII header <c>#binvox 1</c>, <c>dim d h w</c>,
/// <c>translate tx ty tz</c>, <c>scale s</c>, <c>data</c>, then run-length bytes (value, count) pairs whose counts
/// must add up to d·h·w exactly. Strict: unknown header lines, a wrong total, a zero count or trailing garbage are errors.
/// </summary>
public static class BinvoxFormat
{
    public static BinvoxGrid Read(string file, byte[] bytes)
    {
        int pos = 0;
        string Line()
        {
            int end = Array.IndexOf(bytes, (byte)'\n', pos);
            if (end < 0 || end - pos > 256) throw new VoxelFormatException(file, "the header ends before 'data' (truncated or not a binvox file)");
            var text = Encoding.ASCII.GetString(bytes, pos, end - pos).TrimEnd('\r').Trim();
            pos = end + 1;
            return text;
        }
        if (bytes.Length < 8 || Encoding.ASCII.GetString(bytes, 0, 7) != "#binvox") throw new VoxelFormatException(file, "not a binvox file (it must start with '#binvox')");
        var first = Line().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (first.Length != 2 || first[1] != "1") throw new VoxelFormatException(file, $"binvox version '{string.Join(' ', first.Skip(1))}' is not supported (only 1)");
        int[]? dims = null;
        double[] translate = [0, 0, 0];
        double scale = 1;
        while (true)
        {
            var t = Line().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (t.Length == 0) continue;
            if (t[0] == "data") break;
            switch (t[0])
            {
                case "dim" when t.Length == 4:
                    dims = t[1..].Select(s => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v is > 0 and <= 2048 ? v
                        : throw new VoxelFormatException(file, $"bad dim '{string.Join(' ', t[1..])}' (three sizes 1…2048)")).ToArray();
                    break;
                case "translate" when t.Length == 4:
                    translate = t[1..].Select(s => Number(file, s, "translate")).ToArray();
                    break;
                case "scale" when t.Length == 2:
                    scale = Number(file, t[1], "scale");
                    break;
                default: throw new VoxelFormatException(file, $"unknown or malformed header line '{string.Join(' ', t)}'");
            }
        }
        if (dims is null) throw new VoxelFormatException(file, "the header has no 'dim' line");
        long total = (long)dims[0] * dims[1] * dims[2];
        var occupancy = new byte[total];
        long filled = 0;
        while (filled < total)
        {
            if (pos + 1 >= bytes.Length) throw new VoxelFormatException(file, $"the data ends after {filled} of {total} voxels (truncated)");
            byte value = bytes[pos], count = bytes[pos + 1];
            pos += 2;
            if (value > 1) throw new VoxelFormatException(file, $"run value {value} at byte {pos - 2} (binvox runs are 0 or 1)");
            if (count == 0) throw new VoxelFormatException(file, $"a run of length 0 at byte {pos - 2}");
            if (filled + count > total) throw new VoxelFormatException(file, $"the runs add up to more than {total} voxels");
            if (value == 1) occupancy.AsSpan((int)filled, count).Fill(1);
            filled += count;
        }
        // Some writers end with a newline; anything else is not binvox.
        if (bytes.Length - pos > 1 || (bytes.Length - pos == 1 && bytes[pos] != '\n'))
            throw new VoxelFormatException(file, $"{bytes.Length - pos} bytes after the last run");
        return new BinvoxGrid(dims, translate, scale, occupancy);
    }

    static double Number(string file, string s, string what) =>
        double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v) ? v
            : throw new VoxelFormatException(file, $"'{s}' in {what} is not a number");
}
