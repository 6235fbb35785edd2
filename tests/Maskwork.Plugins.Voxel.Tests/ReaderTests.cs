using System.IO.Compression;
using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Formats.Geometry;
using Maskwork.Plugins.Voxel.Formats;
using Maskwork.Plugins.Voxel.Readers;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Voxel.Tests;

/// <summary>binvox and NumPy round trips, bad files named and skipped, meshes voxelised to known cell counts, folders, Parquet.</summary>
public sealed class ReaderTests : IDisposable
{
    readonly string root = Directory.CreateTempSubdirectory("mw-voxel-read-").FullName;
    public void Dispose() => Directory.Delete(root, true);

    string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(root, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    static Tensor Grid(Sample s) => tensor(s.Values, s.Shape.Select(d => (long)d).ToArray());

    static bool Occupied(int x, int y, int z) => (x * 7 + y * 3 + z * 5) % 11 < 3 || (x == 2 && z < 6);

    static Dictionary<string, string> Opts(params (string K, string V)[] kv) => kv.ToDictionary(p => p.K, p => p.V);

    [Fact]
    public void Binvox_round_trips_to_world_axes_with_the_up_axis_first()
    {
        // A non-cubic grid (x 8, z 6, y 4) so any axis mix-up changes shape or values.
        var path = Write("a.binvox", Writers.Binvox(8, 6, 4, Occupied, "0.5 -1 2", "1.25"));
        var g = BinvoxFormat.Read(path, File.ReadAllBytes(path));
        Assert.Equal([8, 6, 4], g.Dims);
        Assert.Equal([0.5, -1, 2], g.Translate);
        Assert.Equal(1.25, g.Scale);
        Assert.Equal(Enumerable.Range(0, 8 * 6 * 4).Count(i => Occupied(i / 24, i % 4, i / 4 % 6)), g.Occupancy.Count(b => b == 1));

        var reader = new VoxelReader(VoxelInput.Binvox);
        var options = VoxelReadOptions.From(new DataSpec("binvox", path) { Options = Opts(("up", "z")) }) with { Grid = 8 };
        // Grid 8 upsamples nearest from [z 6, y 4, x 8]: compare at the source size instead with a cube.
        var cube = Write("c.binvox", Writers.Binvox(8, 8, 8, Occupied));
        foreach (var (up, order) in new[] { ("z", "zyx"), ("y", "yxz"), ("x", "xzy") })
        {
            var s = reader.Decode(cube, VoxelReadOptions.From(new DataSpec("binvox", cube) { Options = Opts(("up", up), ("grid", "8")) }));
            Assert.Equal(SampleDType.UInt8, s.DType);
            Assert.Equal([1, 8, 8, 8], s.Shape);
            var values = s.Values;
            for (int i = 0; i < 8; i++) for (int j = 0; j < 8; j++) for (int k = 0; k < 8; k++)
            {
                var at = new Dictionary<char, int> { [order[0]] = i, [order[1]] = j, [order[2]] = k };
                Assert.Equal(Occupied(at['x'], at['y'], at['z']) ? 1f : 0f, values[(i * 8 + j) * 8 + k]);
            }
        }
        _ = options;
    }

    [Fact]
    public void Binvox_grids_are_max_pooled_to_the_model_grid()
    {
        var path = Write("big.binvox", Writers.Binvox(16, 16, 16, (x, y, z) => x == 5 && y == 9 && z == 14));
        var s = new VoxelReader(VoxelInput.Binvox).Decode(path, VoxelReadOptions.From(new DataSpec("binvox", path) { Options = Opts(("up", "z"), ("grid", "4")) }));
        var g = Grid(s);
        Assert.Equal(1f, g.sum().item<float>());
        Assert.Equal(1f, g[0, 14 / 4, 9 / 4, 5 / 4].item<float>());   // one voxel survives in its 4³ block
    }

    [Fact]
    public void Bad_binvox_files_are_named_and_skipped()
    {
        var good = Writers.Binvox(4, 4, 4, Occupied);
        Write("set/ok.binvox", good);
        var cases = new Dictionary<string, byte[]>
        {
            ["truncated"] = good[..^6],
            ["header"] = System.Text.Encoding.ASCII.GetBytes("#binvox 1\ndim 4 4\ndata\n"),
            ["version"] = System.Text.Encoding.ASCII.GetBytes("#binvox 2\ndim 4 4 4\ndata\n"),
            ["notbinvox"] = System.Text.Encoding.ASCII.GetBytes("OFF\n3 1 0\n"),
            ["overrun"] = [.. good, 1, 200],
            ["value"] = [.. good[..^2], 7, good[^1]],
        };
        foreach (var (name, bytes) in cases) Write($"set/{name}.binvox", bytes);
        var samples = Writers.Read(new VoxelReader(VoxelInput.Binvox), Path.Combine(root, "set"), out var issues, Opts(("grid", "4")));
        Assert.Single(samples);
        Assert.Equal(cases.Count, issues.Count);
        foreach (var name in cases.Keys) Assert.Contains(issues.Items, i => i.File.EndsWith($"{name}.binvox"));
        Assert.Contains(issues.Items, i => i.File.EndsWith("truncated.binvox") && i.Reason.Contains("truncated"));
    }

    public static TheoryData<string, bool, int> NpyCases()
    {
        var data = new TheoryData<string, bool, int>();
        foreach (var d in new[] { "|u1", "|b1", "<f2", "<f4", ">f4", ">f2" })
            foreach (bool fortran in new[] { false, true })
                data.Add(d, fortran, d == "<f4" ? 2 : d == "|u1" ? 3 : 1);
        return data;
    }

    [Theory]
    [MemberData(nameof(NpyCases))]
    public void Npy_round_trips_every_dtype_order_and_version(string descr, bool fortran, int version)
    {
        int[] shape = [3, 4, 5];
        var values = Enumerable.Range(0, 60).Select(i => descr[1] == 'f' ? (i % 7) * 0.125f : Occupied(i % 5, i / 5 % 4, i / 20) ? 1f : 0f).ToArray();
        var bytes = Writers.Npy(descr, shape, Writers.Elements(values, shape, descr, fortran), fortran, version);
        var array = NpyFormat.Read("x.npy", bytes);
        Assert.Equal(shape, array.Shape);
        var back = NpyFormat.ToFloat(array);
        Assert.Equal(values, back);
    }

    [Fact]
    public void Npy_rgba_grids_take_either_layout_and_sigma_becomes_nerf_mae_alpha()
    {
        const int S = 6;
        var rgba = new float[4 * S * S * S];
        var rng = new Random(3);
        for (int i = 0; i < rgba.Length; i++) rgba[i] = (float)rng.NextDouble();
        var cdhw = tensor(rgba, [4, S, S, S]);
        var dhwc = cdhw.permute(1, 2, 3, 0).contiguous().data<float>().ToArray();
        var a = Write("cdhw.npy", Writers.Npy("<f4", [4, S, S, S], Writers.Elements(rgba, [4, S, S, S], "<f4", false)));
        var b = Write("dhwc.npy", Writers.Npy("<f4", [S, S, S, 4], Writers.Elements(dhwc, [S, S, S, 4], "<f4", false)));
        var reader = new VoxelReader(VoxelInput.Npy);
        var sa = reader.Decode(a, VoxelReadOptions.From(new DataSpec("npy", a) { Options = Opts(("grid", "6"), ("channels", "rgba")) }));
        var sb = reader.Decode(b, VoxelReadOptions.From(new DataSpec("npy", b) { Options = Opts(("grid", "6"), ("channels", "rgba"), ("layout", "dhwc")) }));
        Assert.Equal(SampleDType.Float16, sa.DType);
        Assert.Equal([4, S, S, S], sa.Shape);
        Assert.True(Grid(sa).allclose(cdhw, rtol: 0, atol: 1e-3), "float16 keeps [0,1] values to 1e-3");
        Assert.Equal(sa.Values, sb.Values);
        // Sigma: α = clip(1 − exp(−exp(σ)/100), 0, 1).
        var ss = reader.Decode(a, VoxelReadOptions.From(new DataSpec("npy", a) { Options = Opts(("grid", "6"), ("channels", "rgba"), ("opacity", "sigma")) }));
        double sigma = rgba[3 * S * S * S + 5], expected = Math.Clamp(1 - Math.Exp(-Math.Exp(sigma) / 100), 0, 1);
        Assert.Equal(expected, ss.Values[3 * S * S * S + 5], 3);
        // The wrong layout is refused with a hint.
        var wrong = Assert.Throws<InvalidDataFileException>(() => reader.Decode(b, VoxelReadOptions.From(new DataSpec("npy", b) { Options = Opts(("grid", "6"), ("channels", "rgba")) })));
        Assert.Contains("data.layout=dhwc", wrong.Reason);
    }

    [Fact]
    public void Npz_members_are_read_stored_or_deflated_and_picked_by_key()
    {
        var occ = Enumerable.Range(0, 64).Select(i => i % 3 == 0 ? 1f : 0f).ToArray();
        var npy = Writers.Npy("|u1", [4, 4, 4], Writers.Elements(occ, [4, 4, 4], "|u1", false));
        var other = Writers.Npy("|u1", [4, 4, 4], new byte[64]);
        var reader = new VoxelReader(VoxelInput.Npy);
        foreach (var level in new[] { CompressionLevel.NoCompression, CompressionLevel.Optimal })
        {
            var path = Write($"g{level}.npz", Writers.Npz([("empty", other), ("occupancy", npy)], level));
            var s = reader.Decode(path, VoxelReadOptions.From(new DataSpec("npy", path) { Options = Opts(("grid", "4"), ("key", "occupancy")) }));
            Assert.Equal(occ, s.Values);
            Assert.Equal(0f, reader.Decode(path, VoxelReadOptions.From(new DataSpec("npy", path) { Options = Opts(("grid", "4")) })).Values.Sum());
            var missing = Assert.Throws<InvalidDataFileException>(() => reader.Decode(path, VoxelReadOptions.From(new DataSpec("npy", path) { Options = Opts(("grid", "4"), ("key", "nope")) })));
            Assert.Contains("empty, occupancy", missing.Reason);
        }
    }

    [Fact]
    public void Bad_numpy_files_are_named_and_skipped()
    {
        var good = Writers.Npy("<f4", [4, 4, 4], new byte[256]);
        Write("np/ok.npy", good);
        var cases = new Dictionary<string, byte[]>
        {
            ["truncated.npy"] = good[..^10],
            ["magic.npy"] = [.. "NUMPY!"u8.ToArray(), .. good[6..]],
            ["dtype.npy"] = Writers.Npy("<i8", [4, 4, 4], new byte[512]),
            ["rank.npy"] = Writers.Npy("<f4", [4, 16], new byte[256]),
            ["extra.npy"] = [.. good, 0, 0, 0, 0],
            ["zip.npz"] = "PK\u0003\u0004 not really a zip"u8.ToArray(),
            ["nan.npy"] = Writers.Npy("<f4", [4, 4, 4], [.. new byte[252], .. BitConverter.GetBytes(float.NaN)]),
        };
        foreach (var (name, bytes) in cases) Write($"np/{name}", bytes);
        var samples = Writers.Read(new VoxelReader(VoxelInput.Npy), Path.Combine(root, "np"), out var issues, Opts(("grid", "4")));
        Assert.Single(samples);
        Assert.Equal(cases.Count, issues.Count);
        foreach (var name in cases.Keys) Assert.Contains(issues.Items, i => i.File.EndsWith(name));
        Assert.Contains(issues.Items, i => i.File.EndsWith("dtype.npy") && i.Reason.Contains("'<i8'"));
    }

    [Fact]
    public void A_cube_voxelises_to_its_exact_shell_and_fills_to_the_solid()
    {
        // Extent 2 → 15 cells of 16 with margin 1/32: faces at 0.5 and 15.5, the middle of the border cells.
        var cube = Writers.Cube(-1, 1);
        var shell = MeshVoxelizer.Voxelize(cube, new VoxelizeOptions(16, 1.0 / 32), seed: 1);
        Assert.Equal(16 * 16 * 16 - 14 * 14 * 14, shell.Occupancy.Count(b => b == 1));
        var solid = MeshVoxelizer.Voxelize(cube, new VoxelizeOptions(16, 1.0 / 32, Fill: true), seed: 1);
        Assert.Equal(16 * 16 * 16, solid.Occupancy.Count(b => b == 1));
        // A smaller centred cube: 7 cells wide ([4.5, 11.5]) inside a 16 grid → solid over cells 4…11, 8³.
        var small = MeshVoxelizer.Voxelize(cube, new VoxelizeOptions(16, 0.25 + 1.0 / 32, Fill: true), seed: 2);
        var g = tensor(small.Occupancy).view(16, 16, 16).to_type(ScalarType.Int64);
        Assert.Equal(8 * 8 * 8, g.sum().item<long>());
        Assert.Equal(8 * 8 * 8, g[4..12, 4..12, 4..12].sum().item<long>());
    }

    [Fact]
    public void A_sphere_voxelises_to_the_cells_its_surface_crosses()
    {
        const int S = 32;
        var sphere = Writers.Sphere(4);                      // 5,120 triangles, vertices on the unit sphere
        var options = new VoxelizeOptions(S, 2.0 / 32);
        var v = MeshVoxelizer.Voxelize(sphere, options, seed: 3);
        var fill = MeshVoxelizer.Voxelize(sphere, options with { Fill = true }, seed: 3);
        double r = v.Scale;                                   // the sphere's radius in cells
        // Independent check: a cell meets the surface iff its nearest point is inside radius r and its farthest outside.
        // The mesh lies between r·cos(edge angle / 2)… r; faces inside r by up to ~0.2 % (level 4).
        double inner = r * 0.997;
        var c = v.Centre;
        int crossed = 0, inBand = 0, bandCells = 0, ball = 0, occupied = 0, filled = 0;
        for (int z = 0; z < S; z++) for (int y = 0; y < S; y++) for (int x = 0; x < S; x++)
        {
            double near = 0, far = 0;
            foreach (var (i, centre) in new[] { (z, S / 2.0), (y, S / 2.0), (x, S / 2.0) })
            {
                double lo = i - centre, hi = i + 1 - centre;
                double n = lo > 0 ? lo : hi < 0 ? -hi : 0, f = Math.Max(Math.Abs(lo), Math.Abs(hi));
                near += n * n; far += f * f;
            }
            near = Math.Sqrt(near); far = Math.Sqrt(far);
            bool cross = near <= r && far >= r, band = near <= r && far >= inner;
            int k = (z * S + y) * S + x;
            crossed += cross ? 1 : 0;
            bandCells += band ? 1 : 0;
            if (v.Occupancy[k] == 1) { occupied++; inBand += band ? 1 : 0; }
            if (fill.Occupancy[k] == 1) { filled++; ball += near <= r ? 1 : 0; }
        }
        Assert.Equal(occupied, inBand);                                       // no cell away from the surface
        // The mesh is inscribed (up to 0.3 % inside r), so cells the true sphere only grazes are never reached: measured
        // 3,198 of the 3,728 cells the sphere crosses (0.858, seed 3).
        Assert.InRange(occupied, crossed * 0.85, bandCells);
        Assert.Equal(filled, ball);                                           // the fill stays inside the ball
        _ = c;
    }

    /// <summary>
    /// The filled sphere holds every cell whose centre lies inside the mesh (radius 0.997·r: the inscribed icosphere) —
    /// the usual solid-voxel rule — so the flood fill of the outside does not leak through the sampled shell. (An earlier
    /// version of this test asked for every cell whose nearest point is inside; the 176 such cells left empty are all
    /// surface cells the ball only grazes — none has its centre inside — i.e. the shell sampling's known miss, not a leak.)
    /// </summary>
    [Fact]
    public void The_solid_fill_covers_every_cell_whose_centre_is_inside_a_sphere()
    {
        const int S = 32;
        var sphere = Writers.Sphere(4);
        var fill = MeshVoxelizer.Voxelize(sphere, new VoxelizeOptions(S, 2.0 / 32, Fill: true), seed: 3);
        double inner = fill.Scale * 0.997;
        int inside = 0, missed = 0;
        for (int z = 0; z < S; z++) for (int y = 0; y < S; y++) for (int x = 0; x < S; x++)
        {
            double d = Math.Sqrt((z + 0.5 - S / 2.0) * (z + 0.5 - S / 2.0) + (y + 0.5 - S / 2.0) * (y + 0.5 - S / 2.0) + (x + 0.5 - S / 2.0) * (x + 0.5 - S / 2.0));
            if (d >= inner) continue;
            inside++;
            if (fill.Occupancy[(z * S + y) * S + x] != 1) missed++;
        }
        Assert.True(inside > 4 * Math.PI / 3 * Math.Pow(inner - 1, 3), $"{inside} cells inside");   // the check itself covers the ball
        Assert.Equal(0, missed);
    }

    [Fact]
    public void Coloured_meshes_give_rgb_alpha_grids_and_up_axes_reorder()
    {
        var red = Writers.Cube(-1, 1, [1f, 0f, 0f, 1f]);
        var path = Write("colour/red.off", System.Text.Encoding.ASCII.GetBytes(Writers.Off(red)));
        var reader = new VoxelReader(VoxelInput.MeshVoxels);
        var s = reader.Decode(path, VoxelReadOptions.From(new DataSpec("mesh-voxels", path) { Options = Opts(("grid", "16"), ("channels", "rgba")) }));
        Assert.Equal([4, 16, 16, 16], s.Shape);
        Assert.Equal(SampleDType.Float16, s.DType);
        var g = Grid(s);
        var alpha = g[3];
        Assert.Equal(1352, alpha.sum().item<float>());
        Assert.Equal(1352, g[0].sum().item<float>(), 1);                      // red where occupied
        Assert.Equal(0, g[1].sum().item<float>() + g[2].sum().item<float>());
        // A flat box (x 4, y 2, z 1): with up = z the grid's axis 0 is the thin one, with up = x the long one.
        var box = new Mesh(Writers.Cube(0, 1).Vertices.Select((x, i) => x * (i % 3 == 0 ? 4 : i % 3 == 1 ? 2 : 1)).ToArray(), Writers.Cube(0, 1).Triangles, null, null);
        Tensor Extent(int up)
        {
            var vx = MeshVoxelizer.Voxelize(box, new VoxelizeOptions(16, 0, Up: up), 1);
            var t = tensor(vx.Occupancy).view(16, 16, 16).gt(0);
            return stack([t.any(2).any(1).sum(), t.any(2).any(0).sum(), t.any(1).any(0).sum()]);
        }
        var zyx = Extent(2).data<long>().ToArray();   // (z, y, x): thin, middle, long
        Assert.True(zyx[0] < zyx[1] && zyx[1] < zyx[2] && zyx[2] == 16, string.Join(',', zyx));
        var xzy = Extent(0).data<long>().ToArray();   // (x, z, y): long, thin, middle
        Assert.True(xzy[0] == 16 && xzy[1] < xzy[2] && xzy[2] < 16, string.Join(',', xzy));
    }

    [Fact]
    public void The_shapes_set_reads_labels_from_class_folders_and_the_split_from_train_test()
    {
        string shapes = Writers.Shared("shapes");
        var reader = new VoxelReader(VoxelInput.MeshVoxels);
        var manifest = File.ReadLines(Path.Combine(shapes, "manifest.csv")).Skip(1).Select(l => l.Split(',')).ToList();
        var classes = manifest.Select(m => m[1]).Distinct().Order(StringComparer.Ordinal).ToList();
        Assert.Equal(10, classes.Count);
        // One class folder read as a whole keeps train and test apart.
        var varistor = Writers.Read(reader, Path.Combine(shapes, "varistor"), out var issues, Opts(("grid", "32")));
        Assert.Equal(0, issues.Count);
        Assert.Equal(manifest.Count(m => m[1] == "varistor"), varistor.Count);
        Assert.Equal(manifest.Count(m => m[1] == "varistor" && m[2] == "test"), varistor.Count(s => s.Split == "test"));
        // The whole set's test split: 93 shapes, labels = sorted class names.
        var test = Writers.Read(reader, shapes, out issues, Opts(("grid", "16")), split: "test");
        Assert.Equal(0, issues.Count);
        Assert.Equal(93, test.Count);
        foreach (var s in test)
        {
            var row = manifest.Single(m => Path.Combine(shapes, m[0]) == s.Source);
            Assert.Equal(classes.IndexOf(row[1]), s.Label);
            Assert.Equal("test", s.Split);
            Assert.Equal([1, 16, 16, 16], s.Shape);
            Assert.True(s.Values.Sum() > 10, $"{s.Source}: a shape fills more than 10 cells");
        }
    }

    [Fact]
    public void Ply_meshes_voxelise_like_the_same_mesh_in_off_and_bad_ply_is_skipped()
    {
        // Float32 vertices in both files (the OFF text is written from the same floats), so the meshes, and with the same
        // seed the grids, must agree exactly; the cube's colour and cell count are known.
        var cube = Writers.Cube(-1, 1, [1f, 0f, 0f, 1f]);
        var sphere = Writers.Sphere(3);
        sphere = sphere with { Vertices = sphere.Vertices.Select(v => (double)(float)v).ToArray() };
        foreach (var format in new[] { "ascii", "binary_little_endian", "binary_big_endian" })
        {
            var ply = PlyFormat.ReadMesh("s.ply", Writers.Ply(sphere, format));
            Assert.Equal(sphere.Vertices, ply.Vertices);
            Assert.Equal(sphere.Triangles, ply.Triangles);
            var options = new VoxelizeOptions(24, 2.0 / 32, Fill: true);
            Assert.Equal(MeshVoxelizer.Voxelize(sphere, options, 5).Occupancy, MeshVoxelizer.Voxelize(ply, options, 5).Occupancy);
            var path = Write($"ply/{format}/red.ply", Writers.Ply(cube, format));
            var s = new VoxelReader(VoxelInput.MeshVoxels).Decode(path, VoxelReadOptions.From(new DataSpec("mesh-voxels", path) { Options = Opts(("grid", "16"), ("channels", "rgba")) }));
            var g = Grid(s);
            Assert.Equal(1352, g[3].sum().item<float>());
            Assert.Equal(1352, g[0].sum().item<float>(), 1);
            Assert.Equal(0, g[1].sum().item<float>() + g[2].sum().item<float>());
        }
        var good = Writers.Ply(sphere, "binary_little_endian");
        Write("plybad/train/ball/ok.ply", good);
        Write("plybad/train/ball/truncated.ply", good[..(good.Length - 100)]);
        Write("plybad/train/ball/points.ply", "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\nend_header\n0 0 0\n"u8.ToArray());
        var samples = Writers.Read(new VoxelReader(VoxelInput.MeshVoxels), Path.Combine(root, "plybad"), out var issues, Opts(("grid", "8")));
        Assert.Single(samples);
        Assert.Equal(2, issues.Count);
        Assert.Contains(issues.Items, i => i.File.EndsWith("truncated.ply") && i.Reason.Contains("truncated"));
        Assert.Contains(issues.Items, i => i.File.EndsWith("points.ply") && i.Reason.Contains("not a mesh"));
    }

    [Fact]
    public void Mesh_voxels_are_seeded_per_file_and_bad_meshes_are_skipped()
    {
        var off = System.Text.Encoding.ASCII.GetBytes(Writers.Off(Writers.Sphere(1)));
        Write("m/train/ball/a.off", off);
        Write("m/train/ball/b.off", off);
        Write("m/train/ball/truncated.off", off[..(off.Length / 2)]);
        Write("m/train/ball/flat.off", "OFF\n3 1 0\n0 0 0\n0 0 0\n0 0 0\n3 0 1 2\n"u8.ToArray());
        var reader = new VoxelReader(VoxelInput.MeshVoxels);
        var first = Writers.Read(reader, Path.Combine(root, "m"), out var issues, Opts(("grid", "12"), ("density", "0.05")));
        var again = Writers.Read(reader, Path.Combine(root, "m"), out _, Opts(("grid", "12"), ("density", "0.05")));
        Assert.Equal(2, first.Count);
        Assert.Equal(2, issues.Count);
        Assert.Contains(issues.Items, i => i.File.EndsWith("truncated.off") && i.Reason.Contains("truncated"));
        Assert.Contains(issues.Items, i => i.File.EndsWith("flat.off"));
        Assert.Equal(first[0].Values, again[0].Values);                      // same seed, same grid
        Assert.All(first, s => Assert.Equal(0, s.Label));
    }

    [Fact]
    public async Task Grids_ingest_to_parquet_in_their_natural_types()
    {
        var reader = new VoxelReader(VoxelInput.MeshVoxels);
        var path = Write("p/red.off", System.Text.Encoding.ASCII.GetBytes(Writers.Off(Writers.Cube(-1, 1, [0.2f, 0.4f, 1f, 1f]))));
        var occupancy = reader.Decode(path, VoxelReadOptions.From(new DataSpec("mesh-voxels", path) { Options = Opts(("grid", "8")) }));
        var rgba = reader.Decode(path, VoxelReadOptions.From(new DataSpec("mesh-voxels", path) { Options = Opts(("grid", "8"), ("channels", "rgba")) }));
        foreach (var (sample, dtype) in new[] { (occupancy, SampleDType.UInt8), (rgba, SampleDType.Float16) })
        {
            string folder = Path.Combine(root, $"ds-{dtype}");
            await using (var writer = new DatasetWriter(folder))
            {
                await writer.AddAsync(sample, CancellationToken.None);
                await writer.CompleteAsync("mesh-voxels", path, new Dictionary<string, string>(), [], CancellationToken.None);
            }
            var back = Writers.Read(new VoxelParquetReader(), folder, out var issues);
            Assert.True(issues.Count == 0, string.Join("; ", issues.Items.Select(i => $"{i.File}: {i.Reason}")));
            Assert.Equal(dtype, back[0].DType);
            Assert.Equal(sample.Shape, back[0].Shape);
            Assert.Equal(sample.Values, back[0].Values);
        }
    }
}
