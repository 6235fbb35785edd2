using System.Globalization;
using System.Runtime.CompilerServices;
using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Nn;
using Maskwork.Formats.Geometry;
using Maskwork.Plugins.Voxel.Formats;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Voxel.Readers;

/// <summary>The inputs the voxel readers take.</summary>
public enum VoxelInput { Binvox, Npy, MeshVoxels }

/// <summary>Reader options (<c>--set data.k=v</c>), parsed and checked once per read.</summary>
public sealed record VoxelReadOptions
{
    /// <summary>Output grid side S: every sample becomes [C, S, S, S].</summary>
    public int Grid { get; init; } = 32;
    /// <summary><c>occupancy</c> ([1, S, S, S] uint8) or <c>rgba</c> ([4, S, S, S] float16: RGB, α).</summary>
    public string Channels { get; init; } = "occupancy";
    /// <summary>NumPy 4-channel grids: <c>cdhw</c> ([4, D, H, W]) or <c>dhwc</c> ([D, H, W, 4], NeRF-MAE's files).</summary>
    public string Layout { get; init; } = "cdhw";
    /// <summary>NumPy 4-channel grids: the 4th channel is <c>alpha</c> or <c>sigma</c> (a NeRF density, turned into α).</summary>
    public string Density { get; init; } = "alpha";
    /// <summary>The <c>.npz</c> member to read (null: the only one, or the first).</summary>
    public string? Key { get; init; }
    public VoxelizeOptions Mesh { get; init; } = new();
    /// <summary>Mesh sampling seed (mixed with the file name).</summary>
    public int Seed { get; init; }
    /// <summary>binvox: the up axis of the file's world frame (ShapeNet: y), which becomes grid axis 0.</summary>
    public int BinvoxUp { get; init; } = 1;

    public static VoxelReadOptions From(DataSpec spec)
    {
        int Int(string key, int fallback)
        {
            var text = spec.Option(key, fallback.ToString(CultureInfo.InvariantCulture));
            return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : throw new ArgumentException($"data.{key} must be an integer, got '{text}'");
        }
        double Real(string key, double fallback)
        {
            var text = spec.Option(key, fallback.ToString("R", CultureInfo.InvariantCulture));
            return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : throw new ArgumentException($"data.{key} must be a number, got '{text}'");
        }
        string OneOf(string key, string fallback, params string[] known)
        {
            var text = spec.Option(key, fallback);
            return known.Contains(text) ? text : throw new ArgumentException($"data.{key} must be one of {string.Join(", ", known)}, got '{text}'");
        }
        int Axis(string key, string fallback) => OneOf(key, fallback, "x", "y", "z") switch { "x" => 0, "y" => 1, _ => 2 };
        var mesh = new VoxelizeOptions(Int("grid", 32), Real("margin", 1.0 / 32), OneOf("fill", "false", "true", "false") == "true", Axis("up", "z"), Real("density", 16));
        mesh.Validate();
        return new VoxelReadOptions
        {
            Grid = mesh.Size, Channels = OneOf("channels", "occupancy", "occupancy", "rgba"), Layout = OneOf("layout", "cdhw", "cdhw", "dhwc"),
            Density = OneOf("opacity", "alpha", "alpha", "sigma"), Key = spec.Options.TryGetValue("key", out var k) ? k : null,
            Mesh = mesh, Seed = Int("seed", 0), BinvoxUp = Axis("up", "y"),
        };
    }
}

/// <summary>
/// Voxel grids from files: <c>binvox</c> (ShapeNet's run-length voxels), <c>npy</c> (NumPy <c>.npy</c>/<c>.npz</c>
/// occupancy [D, H, W] or RGB-α / RGB-σ [4, D, H, W] / [D, H, W, 4]) and <c>mesh-voxels</c> (OFF and PLY meshes voxelised,
/// <see cref="MeshVoxelizer"/>). Every sample is [C, S, S, S] with grid axis 0 up: occupancy as uint8 0/1, RGB-α as
/// float16, their natural types (what <c>maskwork ingest</c> stores). The path is a file or a folder searched
/// recursively: a <c>train</c>/<c>val</c>/<c>test</c> folder sets the split, the first other folder level is the class
/// (sorted names → 0…K−1), so <c>chair/train/x.off</c> and <c>train/chair/x.off</c> both work. Bad files are named
/// with the reason and skipped.
/// </summary>
public sealed class VoxelReader(VoxelInput input) : IDatasetReader
{
    static readonly string[] SplitNames = ["train", "val", "test"];

    public VoxelInput Input => input;

    public string Name => input switch { VoxelInput.Binvox => "binvox", VoxelInput.Npy => "npy", _ => "mesh-voxels" };

    public string Description => input switch
    {
        VoxelInput.Binvox => "binvox voxel files (ShapeNet) → [1,S,S,S] occupancy; data.grid (resized by max pooling), data.up=y (the file's up axis)",
        VoxelInput.Npy => "NumPy .npy/.npz grids (v1–v3, C/Fortran, uint8/bool/float16/float32): [D,H,W] occupancy or 4-channel RGB-α/σ; data.layout=cdhw|dhwc, data.opacity=alpha|sigma, data.key",
        _ => "OFF and PLY meshes voxelised by dense area-weighted surface sampling → occupancy or RGB-α (data.channels=rgba); data.grid, data.margin, data.fill, data.up, data.seed",
    };

    public string[] Extensions => input switch { VoxelInput.Binvox => [".binvox"], VoxelInput.Npy => [".npy", ".npz"], _ => [".off", ".ply"] };

    /// <summary>The path itself, or under <c>$MASKWORK_DATA</c> when it is relative and not here.</summary>
    public static string Resolve(string path)
    {
        if (File.Exists(path) || Directory.Exists(path) || Path.IsPathRooted(path)) return path;
        var root = Environment.GetEnvironmentVariable("MASKWORK_DATA");
        return root is not null && (Directory.Exists(Path.Combine(root, path)) || File.Exists(Path.Combine(root, path))) ? Path.Combine(root, path) : path;
    }

    public async IAsyncEnumerable<Sample> ReadAsync(DataSpec spec, IDataIssues issues, [EnumeratorCancellation] CancellationToken ct)
    {
        var options = VoxelReadOptions.From(spec);
        string path = Resolve(spec.Path);
        List<(string File, string? Class, string? Split)> entries;
        List<string> classes = [];
        if (File.Exists(path)) entries = [(path, null, null)];
        else if (Directory.Exists(path))
        {
            var files = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
                .Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant())).Order(StringComparer.Ordinal).ToList();
            if (files.Count == 0) throw new FileNotFoundException($"no {Name} files ({string.Join(' ', Extensions)}) under '{path}'");
            entries = files.Select(f => Describe(path, f)).ToList();
            classes = entries.Where(e => e.Class is not null).Select(e => e.Class!).Distinct().Order(StringComparer.Ordinal).ToList();
        }
        else throw new FileNotFoundException($"'{spec.Path}' is neither a file nor a folder (use --data {Name}:<file-or-folder>, or set MASKWORK_DATA)");

        foreach (var (file, cls, split) in entries)
        {
            ct.ThrowIfCancellationRequested();
            if (spec.Split is not null && split is not null && split != spec.Split) continue;
            int? label = cls is null ? null : classes.IndexOf(cls);
            Sample sample;
            try { sample = await Task.Run(() => Decode(file, options, label, split), ct); }
            catch (InvalidDataFileException e) { issues.Skip(e.File, e.Reason); continue; }
            yield return sample;
        }
    }

    static (string File, string? Class, string? Split) Describe(string root, string file)
    {
        var dirs = Path.GetRelativePath(root, file).Split(Path.DirectorySeparatorChar)[..^1];
        string? split = dirs.Select(d => d.ToLowerInvariant()).FirstOrDefault(SplitNames.Contains);
        string? cls = dirs.FirstOrDefault(d => !SplitNames.Contains(d.ToLowerInvariant()));
        return (file, cls, split);
    }

    /// <summary>One file → one sample; throws <see cref="InvalidDataFileException"/> naming the file when it is unusable.</summary>
    public Sample Decode(string file, VoxelReadOptions options, int? label = null, string? split = null)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(file); }
        catch (IOException e) { throw new InvalidDataFileException(file, $"cannot read: {e.Message}", e); }
        using var scope = NewDisposeScope();
        try
        {
            return input switch
            {
                VoxelInput.Binvox => FromBinvox(file, bytes, options, label, split),
                VoxelInput.Npy => FromNpy(file, bytes, options, label, split),
                _ => FromMesh(file, bytes, options, label, split),
            };
        }
        catch (VoxelFormatException e) { throw new InvalidDataFileException(e.File, e.Reason, e); }
        catch (GeometryFormatException e) { throw new InvalidDataFileException(e.File == "mesh" ? file : e.File, e.Reason, e); }
        catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or OverflowException or FormatException or InvalidDataException)
        {
            throw new InvalidDataFileException(file, $"cannot read as {Name}: {e.Message}", e);
        }
    }

    Sample FromBinvox(string file, byte[] bytes, VoxelReadOptions o, int? label, string? split)
    {
        if (o.Channels != "occupancy") throw new ArgumentException("binvox holds occupancy only: data.channels=rgba needs npy or mesh-voxels");
        var g = BinvoxFormat.Read(file, bytes);
        // File order [x, z, y] → world [z, y, x], then the up axis first (up, up − 1, up − 2 cyclically).
        var xzy = tensor(g.Occupancy).view(g.Dims[0], g.Dims[1], g.Dims[2]);
        var zyx = xzy.permute(1, 2, 0);
        long[] world = o.BinvoxUp switch { 2 => [0, 1, 2], 1 => [1, 2, 0], _ => [2, 0, 1] };  // axes of zyx: z=0, y=1, x=2
        var grid = zyx.permute(world).unsqueeze(0);
        return VoxelGrids.Occupancy(VoxelGrids.Resize(grid, o.Grid, occupancy: true), label, file, split);
    }

    Sample FromNpy(string file, byte[] bytes, VoxelReadOptions o, int? label, string? split)
    {
        NpyArray array;
        if (file.EndsWith(".npz", StringComparison.OrdinalIgnoreCase))
        {
            var members = NpyFormat.ReadNpz(file, bytes);
            if (o.Key is { } key)
                array = members.FirstOrDefault(m => m.Name == key).Array ?? throw new VoxelFormatException(file, $"no member '{key}' (members: {string.Join(", ", members.Select(m => m.Name))})");
            else array = members[0].Array;
        }
        else array = NpyFormat.Read(file, bytes);
        var shape = array.Shape.Select(s => (long)s).ToArray();
        var values = tensor(NpyFormat.ToFloat(array)).view(shape);
        if (!values.isfinite().all().item<bool>()) throw new VoxelFormatException(file, "the grid holds NaN or infinite values");
        if (shape.Length == 3)
        {
            if (o.Channels == "rgba") throw new VoxelFormatException(file, $"a [D,H,W] array is an occupancy grid; data.channels=rgba needs [4,D,H,W] or [D,H,W,4]");
            return VoxelGrids.Occupancy(VoxelGrids.Resize(values.unsqueeze(0), o.Grid, occupancy: true), label, file, split);
        }
        if (shape.Length == 4)
        {
            var cdhw = o.Layout == "dhwc" ? values.permute(3, 0, 1, 2) : values;
            if (cdhw.shape[0] != 4) throw new VoxelFormatException(file, $"shape ({string.Join(", ", shape)}) with data.layout={o.Layout} has {cdhw.shape[0]} channels, RGB-α needs 4 (try data.layout={(o.Layout == "cdhw" ? "dhwc" : "cdhw")})");
            using var k = new HeldScalars();
            var alpha = o.Density == "sigma" ? VoxelGrids.AlphaFromSigma(cdhw[3]) : cdhw[3].clamp(k[0.0], k[1.0]);
            var rgba = cat([cdhw.narrow(0, 0, 3).clamp(k[0.0], k[1.0]), alpha.unsqueeze(0)], 0);
            if (o.Channels == "occupancy") return VoxelGrids.Occupancy(VoxelGrids.Resize(rgba.narrow(0, 3, 1), o.Grid, occupancy: true), label, file, split);
            return VoxelGrids.Rgba(VoxelGrids.Resize(rgba, o.Grid, occupancy: false), label, file, split);
        }
        throw new VoxelFormatException(file, $"shape ({string.Join(", ", shape)}): a grid is [D,H,W], [4,D,H,W] or [D,H,W,4]");
    }

    Sample FromMesh(string file, byte[] bytes, VoxelReadOptions o, int? label, string? split)
    {
        var mesh = Path.GetExtension(file).Equals(".ply", StringComparison.OrdinalIgnoreCase) ? PlyFormat.ReadMesh(file, bytes) : OffFormat.ReadMesh(file, bytes);
        var voxels = MeshVoxelizer.Voxelize(mesh, o.Mesh, Mix(o.Seed, Path.GetFileName(file)));
        int S = voxels.Size;
        var occupancy = tensor(voxels.Occupancy).view(1, S, S, S);
        if (o.Channels == "occupancy") return VoxelGrids.Occupancy(occupancy, label, file, split);
        // RGB-α: α = occupancy; an uncoloured mesh is mid grey.
        using var k = new HeldScalars();
        var rgb = voxels.Rgb is { } c ? tensor(c).view(3, S, S, S) : ones(3, S, S, S).mul(k[0.5]);
        var alpha = occupancy.to_type(ScalarType.Float32);
        return VoxelGrids.Rgba(cat([rgb * alpha, alpha], 0), label, file, split);
    }

    /// <summary>A stable (process-independent) seed per file name.</summary>
    static long Mix(int seed, string name)
    {
        uint h = 2166136261;
        foreach (char c in name) h = (h ^ c) * 16777619;
        return SeedMix.Of(seed, h);
    }
}

/// <summary>
/// <c>voxel-parquet</c>: a Maskwork Parquet dataset (what <c>maskwork ingest --reader mesh-voxels|npy|binvox</c> writes:
/// uint8 occupancy or float16 RGB-α rows), checked to hold cubic grids [C, S, S, S]; other rows are named and skipped.
/// </summary>
public sealed class VoxelParquetReader : IDatasetReader
{
    public string Name => "voxel-parquet";
    public string Description => "Maskwork Parquet datasets of voxel grids ([1|4, S, S, S] rows), as `maskwork ingest --reader mesh-voxels` writes them";

    public async IAsyncEnumerable<Sample> ReadAsync(DataSpec spec, IDataIssues issues, [EnumeratorCancellation] CancellationToken ct)
    {
        await foreach (var s in ParquetDataset.ReadAllAsync(spec, issues, ct))
        {
            if (s.Shape.Length != 4 || s.Shape[0] is not (1 or 4) || s.Shape[1] != s.Shape[2] || s.Shape[2] != s.Shape[3])
            {
                issues.Skip(s.Source, $"a voxel grid must have shape [1 or 4, S, S, S], this row has [{string.Join(',', s.Shape)}]");
                continue;
            }
            yield return s;
        }
    }
}
