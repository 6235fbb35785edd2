using System.Globalization;
using System.Runtime.CompilerServices;
using Maskwork.Abstractions;
using Maskwork.Formats.Geometry;

namespace Maskwork.Plugins.Lidar.Readers;

/// <summary>
/// How the <c>lidar</c> reader places and crops a scan (<c>data.*</c> options). Coordinates come out relative to the
/// sensor origin, so the range, the field of view and the sectors are all about (0, 0).
/// </summary>
/// <param name="Origin">The sensor origin in the file's coordinates; null = the centre of the scan's x/y bounds at its lowest z (aerial tiles).</param>
/// <param name="FovDegrees">Horizontal field of view, centred on <paramref name="HeadingDegrees"/>; 360 keeps every direction.</param>
/// <param name="HeadingDegrees">Direction the field of view is centred on, degrees from +x towards +y.</param>
/// <param name="Range">Crop box xmin, ymin, zmin, xmax, ymax, zmax about the origin (metres); null keeps everything.</param>
/// <param name="Labels">A PLY vertex property kept as a fifth column of per-point class labels (e.g. <c>label</c>); null for none.</param>
public sealed record LidarReadOptions(double[]? Origin, double FovDegrees = 360, double HeadingDegrees = 0, double[]? Range = null, string? Labels = null)
{
    public static LidarReadOptions From(DataSpec spec)
    {
        string origin = spec.Option("origin", "0,0,0");
        double[]? o = origin == "centre" || origin == "center" ? null : Numbers(origin, "origin", 3);
        double fov = Number(spec.Option("fov", "360"), "fov");
        if (fov is <= 0 or > 360) throw new ArgumentException($"data.fov must be in (0, 360] degrees, got {fov}");
        double heading = Number(spec.Option("heading", "0"), "heading");
        string range = spec.Option("range", "");
        double[]? r = range.Length == 0 ? null : Numbers(range, "range", 6);
        if (r is not null && (r[0] >= r[3] || r[1] >= r[4] || r[2] >= r[5]))
            throw new ArgumentException($"data.range is xmin,ymin,zmin,xmax,ymax,zmax with each min below its max, got '{range}'");
        string labels = spec.Option("labels", "");
        return new LidarReadOptions(o, fov, heading, r, labels.Length == 0 ? null : labels);
    }

    static double Number(string text, string key) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v)
            ? v : throw new ArgumentException($"data.{key} must be a number, got '{text}'");

    /// <summary>Parses <paramref name="count"/> comma-separated numbers.</summary>
    public static double[] Numbers(string text, string key, int count)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length != count) throw new ArgumentException($"data.{key} needs {count} comma-separated numbers, got '{text}'");
        return parts.Select(p => Number(p, key)).ToArray();
    }
}

/// <summary>
/// <c>lidar</c>: LiDAR scans → samples [N, 4] of x, y, z, intensity (0 when the file has none) about the sensor origin,
/// cropped to the range and the field of view, or [N, 5] with a per-point label column (<c>data.labels=label</c>).
/// A file or a folder (recursive) of KITTI <c>.bin</c>, PCD and PLY scans, parsed by the shared
/// <c>Maskwork.Formats.Geometry</c> parsers. A bad file is reported with its path and reason and skipped; a scan with no
/// point inside the range is skipped too (say so, rather than train on nothing).
/// </summary>
public sealed class LidarReader : IDatasetReader
{
    static readonly string[] Extensions = [".bin", ".pcd", ".ply"];

    public string Name => "lidar";

    public string Description =>
        "LiDAR scans (.bin KITTI, .pcd, .ply), file or folder; data.origin=x,y,z|centre, data.fov (degrees), data.heading, data.range=xmin,ymin,zmin,xmax,ymax,zmax, data.labels=<ply property>";

    /// <summary>Parses and places one scan; throws <see cref="InvalidDataFileException"/> naming the file when it is unusable.</summary>
    public static float[] Decode(string file, byte[] bytes, LidarReadOptions options, out int width)
    {
        PointCloudData cloud;
        try
        {
            cloud = Path.GetExtension(file).ToLowerInvariant() switch
            {
                ".bin" => KittiFormat.Read(file, bytes),
                ".pcd" => PcdFormat.Read(file, bytes),
                ".ply" => PlyFormat.Read(file, bytes, options.Labels is null ? ["intensity"] : ["intensity", options.Labels]),
                var e => throw new GeometryFormatException(file, $"'{e}' is not a LiDAR scan extension (.bin, .pcd, .ply)"),
            };
        }
        catch (GeometryFormatException e) { throw new InvalidDataFileException(e.File, e.Reason, e); }
        catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or OverflowException or FormatException or InvalidDataException)
        {
            throw new InvalidDataFileException(file, $"cannot parse: {e.Message}", e);
        }
        int intensity = Array.IndexOf(cloud.Columns, "intensity");
        int label = options.Labels is null ? -1 : Array.IndexOf(cloud.Columns, options.Labels);
        if (options.Labels is not null && label < 0) throw new InvalidDataFileException(file, $"has no '{options.Labels}' property for data.labels");
        width = label >= 0 ? 5 : 4;
        double ox, oy, oz;
        if (options.Origin is { } o) (ox, oy, oz) = (o[0], o[1], o[2]);
        else
        {
            double minX = double.MaxValue, maxX = double.MinValue, minY = double.MaxValue, maxY = double.MinValue, minZ = double.MaxValue;
            for (int i = 0; i < cloud.Points; i++)
            {
                double x = cloud.Values[i * cloud.Width], y = cloud.Values[i * cloud.Width + 1], z = cloud.Values[i * cloud.Width + 2];
                minX = Math.Min(minX, x); maxX = Math.Max(maxX, x); minY = Math.Min(minY, y); maxY = Math.Max(maxY, y); minZ = Math.Min(minZ, z);
            }
            (ox, oy, oz) = ((minX + maxX) / 2, (minY + maxY) / 2, minZ);
        }
        double half = options.FovDegrees / 2 * Math.PI / 180, heading = options.HeadingDegrees * Math.PI / 180;
        var r = options.Range;
        var kept = new List<float>(cloud.Points * width);
        for (int i = 0; i < cloud.Points; i++)
        {
            int at = i * cloud.Width;
            double x = cloud.Values[at] - ox, y = cloud.Values[at + 1] - oy, z = cloud.Values[at + 2] - oz;
            if (r is not null && (x < r[0] || x >= r[3] || y < r[1] || y >= r[4] || z < r[2] || z >= r[5])) continue;
            if (options.FovDegrees < 360 && Math.Abs(Math.IEEERemainder(Math.Atan2(y, x) - heading, 2 * Math.PI)) > half) continue;
            kept.Add((float)x); kept.Add((float)y); kept.Add((float)z);
            kept.Add(intensity >= 0 ? cloud.Values[at + intensity] : 0f);
            if (label >= 0) kept.Add(cloud.Values[at + label]);
        }
        if (kept.Count == 0) throw new InvalidDataFileException(file, $"none of its {cloud.Points} points lies inside the range and field of view (check data.origin, data.range, data.fov)");
        return kept.ToArray();
    }

    public async IAsyncEnumerable<Sample> ReadAsync(DataSpec spec, IDataIssues issues, [EnumeratorCancellation] CancellationToken ct)
    {
        var options = LidarReadOptions.From(spec);
        List<string> files;
        if (File.Exists(spec.Path)) files = [spec.Path];
        else if (Directory.Exists(spec.Path))
        {
            files = Directory.EnumerateFiles(spec.Path, "*", SearchOption.AllDirectories)
                .Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant())).Order(StringComparer.Ordinal).ToList();
            if (files.Count == 0) throw new FileNotFoundException($"no LiDAR scans (.bin .pcd .ply) under '{spec.Path}'");
        }
        else throw new FileNotFoundException($"'{spec.Path}' is neither a file nor a folder (use --data lidar:<scan-or-folder>)");
        foreach (var file in files)
        {
            ct.ThrowIfCancellationRequested();
            float[] values;
            int width;
            try
            {
                byte[] bytes;
                try { bytes = await File.ReadAllBytesAsync(file, ct); }
                catch (IOException e) { throw new InvalidDataFileException(file, $"cannot read: {e.Message}", e); }
                values = Decode(file, bytes, options, out width);
            }
            catch (InvalidDataFileException e) { issues.Skip(e.File, e.Reason); continue; }
            yield return new Sample(values, [values.Length / width, width], null, file);
        }
    }
}
