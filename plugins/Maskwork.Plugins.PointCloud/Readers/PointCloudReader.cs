using System.Runtime.CompilerServices;
using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Formats.Geometry;

namespace Maskwork.Plugins.PointCloud.Readers;

/// <summary>The point file formats this plugin reads.</summary>
public enum PointFormat { Ply, Pcd, Off, Xyz, Kitti }

/// <summary>
/// Point-cloud files → samples of shape [N, C] (x, y, z first; then normals, colour, intensity when
/// the file has them, or only x, y, z with <c>data.fields=xyz</c>). The path is one file or a folder
/// searched recursively. In a folder, a <c>train</c>/<c>val</c>/<c>test</c> directory level sets
/// the split and the first other directory level is the class (sorted names → 0..K−1), so both
/// <c>chair/train/x.off</c> (ModelNet) and <c>train/chair/x.off</c> work.
/// The <c>pointcloud</c> reader picks the format from each file's extension; the format readers
/// (<c>ply</c>, <c>pcd</c>, <c>off</c>, <c>xyz</c>, <c>kitti</c>) read one format whatever the
/// extension of a named file, and only their own extensions in a folder.
/// Bad files are reported with their path and reason and skipped.
/// </summary>
public sealed class PointCloudReader : IDatasetReader
{
    static readonly string[] SplitNames = ["train", "val", "test"];

    static readonly Dictionary<string, PointFormat> Extensions = new(StringComparer.OrdinalIgnoreCase)
    {
        [".ply"] = PointFormat.Ply, [".pcd"] = PointFormat.Pcd, [".off"] = PointFormat.Off,
        [".xyz"] = PointFormat.Xyz, [".pts"] = PointFormat.Xyz, [".bin"] = PointFormat.Kitti,
    };

    readonly PointFormat? format;

    /// <summary>The extension-dispatching reader <c>pointcloud</c>.</summary>
    public PointCloudReader() { Name = "pointcloud"; }

    /// <summary>A reader of one format, named after it.</summary>
    public PointCloudReader(PointFormat format)
    {
        this.format = format;
        Name = format.ToString().ToLowerInvariant();
    }

    public string Name { get; }

    public string Description => format switch
    {
        null => "point clouds by extension: .ply .pcd .off .xyz/.pts .bin (KITTI); file or folder (class/split from folders); data.fields=xyz|all, data.mesh_points, data.seed",
        PointFormat.Ply => "PLY point clouds (ascii, binary little/big endian): x,y,z + normals, colour",
        PointFormat.Pcd => "PCL .pcd point clouds (ascii, binary, binary_compressed/LZF)",
        PointFormat.Off => "OFF meshes sampled uniformly by area to data.mesh_points points (seeded by data.seed)",
        PointFormat.Xyz => "XYZ text point clouds (x y z [nx ny nz] [intensity])",
        _ => "KITTI Velodyne .bin scans (float32 x, y, z, reflectance)",
    };

    /// <summary>The format of <paramref name="file"/> by extension, or null.</summary>
    public static PointFormat? FormatOf(string file) => Extensions.TryGetValue(Path.GetExtension(file), out var f) ? f : null;

    /// <summary>Decodes one file; throws <see cref="InvalidDataFileException"/> naming it when it is unusable.</summary>
    public static PointCloudData Decode(string file, PointFormat format, PointReadOptions options)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(file); }
        catch (IOException e) { throw new InvalidDataFileException(file, $"cannot read: {e.Message}", e); }
        return Decode(file, bytes, format, options);
    }

    /// <summary>Decodes bytes that came from <paramref name="file"/>.</summary>
    public static PointCloudData Decode(string file, byte[] bytes, PointFormat format, PointReadOptions options)
    {
        try
        {
            return format switch
            {
                PointFormat.Ply => PlyFormat.Read(file, bytes),
                PointFormat.Pcd => PcdFormat.Read(file, bytes),
                PointFormat.Off => OffFormat.Read(file, bytes, options.MeshPoints, Mix(options.Seed, Path.GetFileName(file))),
                PointFormat.Xyz => XyzFormat.Read(file, bytes),
                _ => KittiFormat.Read(file, bytes),
            };
        }
        catch (GeometryFormatException e) { throw new InvalidDataFileException(e.File, e.Reason, e); }
        catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or OverflowException or FormatException or InvalidDataException)
        {
            // A parser bug must still name the file, never crash the run.
            throw new InvalidDataFileException(file, $"cannot parse as {format}: {e.Message}", e);
        }
    }

    /// <summary>A stable (process-independent) seed per file name.</summary>
    static int Mix(int seed, string name)
    {
        uint h = 2166136261;
        foreach (char c in name) h = (h ^ c) * 16777619;
        return (int)((h ^ (uint)seed * 0x9E3779B9u) & 0x7fffffff);
    }

    public async IAsyncEnumerable<Sample> ReadAsync(DataSpec spec, IDataIssues issues, [EnumeratorCancellation] CancellationToken ct)
    {
        var options = PointReadOptions.From(spec);
        bool xyzOnly = spec.Option("fields", "all") switch
        {
            "xyz" => true,
            "all" => false,
            var other => throw new ArgumentException($"data.fields must be 'xyz' or 'all', got '{other}'"),
        };
        List<(string File, string? Class, string? Split)> entries;
        List<string> classes = [];
        if (File.Exists(spec.Path)) entries = [(spec.Path, null, null)];
        else if (Directory.Exists(spec.Path))
        {
            var files = Directory.EnumerateFiles(spec.Path, "*", SearchOption.AllDirectories)
                .Where(f => FormatOf(f) is { } fmt && (format is null || fmt == format))
                .Order(StringComparer.Ordinal).ToList();
            if (files.Count == 0)
                throw new FileNotFoundException($"no {(format is null ? "point-cloud" : Name)} files ({string.Join(' ', Extensions.Where(e => format is null || e.Value == format).Select(e => e.Key))}) under '{spec.Path}'");
            entries = files.Select(f => Describe(spec.Path, f)).ToList();
            classes = entries.Where(e => e.Class is not null).Select(e => e.Class!).Distinct().Order(StringComparer.Ordinal).ToList();
        }
        else throw new FileNotFoundException($"'{spec.Path}' is neither a file nor a folder (use --data {Name}:<file-or-folder>)");

        foreach (var (file, cls, split) in entries)
        {
            ct.ThrowIfCancellationRequested();
            if (spec.Split is not null && split is not null && split != spec.Split) continue;
            var fmt = format ?? FormatOf(file);
            if (fmt is null) { issues.Skip(file, $"unknown point-cloud extension '{Path.GetExtension(file)}' (use a format reader such as ply:, pcd:, kitti:)"); continue; }
            PointCloudData cloud;
            try { cloud = await Task.Run(() => Decode(file, fmt.Value, options), ct); }
            catch (InvalidDataFileException e) { issues.Skip(e.File, e.Reason); continue; }
            if (xyzOnly) cloud = cloud.XyzOnly();
            int? label = cls is null ? null : classes.IndexOf(cls);
            yield return new Sample(cloud.Values, [cloud.Points, cloud.Width], label, file) { Split = split };
        }
    }

    static (string File, string? Class, string? Split) Describe(string root, string file)
    {
        var dirs = Path.GetRelativePath(root, file).Split(Path.DirectorySeparatorChar)[..^1];
        string? split = dirs.Select(d => d.ToLowerInvariant()).FirstOrDefault(SplitNames.Contains);
        string? cls = dirs.FirstOrDefault(d => !SplitNames.Contains(d.ToLowerInvariant()));
        return (file, cls, split);
    }
}

/// <summary>
/// <c>points-parquet</c>: the host's Maskwork Parquet format (<see cref="SampleParquet"/>, what
/// <c>maskwork ingest --reader pointcloud</c> writes), checked to hold point clouds: rows whose shape
/// is not [N ≥ 1, C ≥ 3] are skipped and named. Use the host's <c>parquet</c> reader for no checks.
/// </summary>
public sealed class PointParquetReader : IDatasetReader
{
    public string Name => "points-parquet";
    public string Description => "Maskwork Parquet datasets of point clouds ([N, C≥3] rows), as `maskwork ingest --reader pointcloud` writes them";

    public async IAsyncEnumerable<Sample> ReadAsync(DataSpec spec, IDataIssues issues, [EnumeratorCancellation] CancellationToken ct)
    {
        await foreach (var s in SampleParquet.ReadAsync(spec, issues, ct))
        {
            if (s.Shape.Length != 2 || s.Shape[0] < 1 || s.Shape[1] < 3)
            {
                issues.Skip(s.Source, $"a point cloud must have shape [N, C≥3], this row has [{string.Join(',', s.Shape)}]");
                continue;
            }
            yield return s;
        }
    }
}
