using System.Text;
using Maskwork.Abstractions;
using Maskwork.Formats.Geometry;
using Maskwork.Plugins.PointCloud.Readers;

namespace Maskwork.Plugins.PointCloud.Tests;

public sealed class ReaderTests : IDisposable
{
    readonly Scratch scratch = new();
    public void Dispose() => scratch.Dispose();

    static readonly PointReadOptions Defaults = new();

    [Theory]
    [InlineData("pcd", "pointcloud/bunny.pcd", 397, 3)]      // ascii
    [InlineData("pcd", "pointcloud/milk.pcd", 13704, 3)]     // binary_compressed (LZF)
    [InlineData("pcd", "pointcloud/chef.pcd", 5092, 6)]      // binary_compressed with normals
    [InlineData("xyz", "pointcloud/kitten.xyz", 5210, 6)]
    [InlineData("off", "pointcloud/cow.off", 1024, 3)]       // sampled to data.mesh_points (default 1024)
    [InlineData("off", "pointcloud/elephant.off", 1024, 3)]
    [InlineData("kitti", "lidar/kitti-000008.bin", 17238, 4)]
    public void Shared_files_parse_with_the_right_counts(string reader, string file, int points, int columns)
    {
        var samples = Files.Read(new PointCloudReader(Enum.Parse<PointFormat>(reader, ignoreCase: true)), Files.Shared(file), out var issues);
        Assert.Equal(0, issues.Count);
        var s = Assert.Single(samples);
        Assert.Equal([points, columns], s.Shape);
        Assert.Equal(points * columns, s.Values.Length);
        Assert.All(s.Values, v => Assert.True(float.IsFinite(v)));
        // Coordinates are not all zero (a decoder that skipped the body would pass the count check).
        Assert.True(s.Values.Where((_, i) => i % columns < 3).Select(Math.Abs).Max() > 1e-3);
    }

    [Fact]
    public void The_dispatching_reader_reads_the_whole_shared_folder()
    {
        var samples = Files.Read(new PointCloudReader(), Path.GetDirectoryName(Files.Pcd("bunny.pcd"))!, out var issues, new Dictionary<string, string> { ["mesh_points"] = "500" });
        Assert.Equal(0, issues.Count);
        var counts = samples.ToDictionary(s => Path.GetFileName(s.Source), s => s.Shape[0]);
        Assert.Equal(397, counts["bunny.pcd"]);
        Assert.Equal(13704, counts["milk.pcd"]);
        Assert.Equal(5092, counts["chef.pcd"]);
        Assert.Equal(5210, counts["kitten.xyz"]);
        Assert.Equal(500, counts["cow.off"]);
        Assert.Equal(500, counts["elephant.off"]);
    }

    [Fact]
    public void Known_values_come_through()
    {
        var bunny = PointCloudReader.Decode(Files.Pcd("bunny.pcd"), PointFormat.Pcd, Defaults);
        Assert.Equal([0.0054216f, 0.11349f, 0.040749f], bunny.Values[..3]);
        var kitten = PointCloudReader.Decode(Files.Pcd("kitten.xyz"), PointFormat.Xyz, Defaults);
        Assert.Equal([-0.0721898f, -0.159749f, -0.108444f, 0.340472f, 0.937712f, -0.0690972f], kitten.Values[..6]);
        Assert.Equal(["x", "y", "z", "nx", "ny", "nz"], kitten.Columns);
    }

    [Fact]
    public void Chef_normals_are_unit_vectors_after_LZF_decompression()
    {
        // A wrong LZF back-reference would scramble the field-major columns; unit normals show it did not.
        var chef = PointCloudReader.Decode(Files.Pcd("chef.pcd"), PointFormat.Pcd, Defaults);
        for (int i = 0; i < chef.Points; i += 97)
        {
            double nx = chef.Values[i * 6 + 3], ny = chef.Values[i * 6 + 4], nz = chef.Values[i * 6 + 5];
            Assert.InRange(Math.Sqrt(nx * nx + ny * ny + nz * nz), 0.98, 1.02);
        }
    }

    [Theory]
    [InlineData("ascii")]
    [InlineData("binary")]
    [InlineData("binary_compressed")]
    public void Pcd_variants_round_trip_the_real_clouds(string data)
    {
        foreach (var name in new[] { "bunny.pcd", "chef.pcd" })
        {
            var original = PointCloudReader.Decode(Files.Pcd(name), PointFormat.Pcd, Defaults);
            var path = scratch.Write($"{data}-{name}", Files.Pcd(original, data));
            var back = PointCloudReader.Decode(path, PointFormat.Pcd, Defaults);
            Assert.Equal(original.Columns, back.Columns);
            Assert.Equal(original.Values, back.Values);
        }
    }

    [Theory]
    [InlineData("ascii", false)]
    [InlineData("ascii", true)]
    [InlineData("binary_little_endian", false)]
    [InlineData("binary_little_endian", true)]
    [InlineData("binary_big_endian", false)]
    [InlineData("binary_big_endian", true)]
    public void Ply_variants_read_coordinates_normals_and_colour(string format, bool extras)
    {
        var kitten = PointCloudReader.Decode(Files.Pcd("kitten.xyz"), PointFormat.Xyz, Defaults);
        var path = scratch.Write($"kitten-{format}-{extras}.ply", Files.Ply(kitten, format, extras));
        var samples = Files.Read(new PointCloudReader(PointFormat.Ply), path, out var issues);
        Assert.Equal(0, issues.Count);
        var s = Assert.Single(samples);
        Assert.Equal([5210, extras ? 9 : 6], s.Shape);
        int w = s.Shape[1];
        for (int i = 0; i < 5210; i++)
        {
            for (int c = 0; c < 6; c++) Assert.Equal(kitten.Values[i * 6 + c], s.Values[i * w + c]);
            if (extras)
            {
                Assert.Equal((i % 256) / 255f, s.Values[i * w + 6], 6);
                Assert.Equal(1f, s.Values[i * w + 8]);
            }
        }
        // The fields=xyz option keeps coordinates only.
        var xyz = Assert.Single(Files.Read(new PointCloudReader(PointFormat.Ply), path, out _, new Dictionary<string, string> { ["fields"] = "xyz" }));
        Assert.Equal([5210, 3], xyz.Shape);
    }

    [Fact]
    public void Mesh_sampling_is_seeded_and_on_the_surface()
    {
        var cow = Files.Pcd("cow.off");
        var a = PointCloudReader.Decode(cow, PointFormat.Off, new PointReadOptions(2000, 1));
        var b = PointCloudReader.Decode(cow, PointFormat.Off, new PointReadOptions(2000, 1));
        var c = PointCloudReader.Decode(cow, PointFormat.Off, new PointReadOptions(2000, 2));
        Assert.Equal(2000, a.Points);
        Assert.Equal(a.Values, b.Values);
        Assert.NotEqual(a.Values, c.Values);
    }

    [Fact]
    public void Mesh_sampling_is_uniform_by_area()
    {
        // Two triangles in z = 0 and z = 1 with areas 0.5 and 1.5: a quarter of the points on the first.
        var off = "OFF\n6 2 0\n0 0 0\n1 0 0\n0 1 0\n0 0 1\n3 0 1\n0 1 1\n3 0 1 2\n3 3 4 5\n";
        var path = scratch.Write("two.off", Encoding.ASCII.GetBytes(off));
        var cloud = PointCloudReader.Decode(path, PointFormat.Off, new PointReadOptions(8000, 0));
        int low = Enumerable.Range(0, cloud.Points).Count(i => cloud.Values[i * 3 + 2] < 0.5f);
        Assert.InRange(low / 8000.0, 0.23, 0.27);
        // Inside the triangles: x, y ≥ 0 and x/3 + y ≤ 1 on the big one, x + y ≤ 1 on the small one.
        for (int i = 0; i < cloud.Points; i++)
        {
            float x = cloud.Values[i * 3], y = cloud.Values[i * 3 + 1], z = cloud.Values[i * 3 + 2];
            Assert.True(x >= -1e-6 && y >= -1e-6);
            Assert.True(z < 0.5 ? x + y <= 1 + 1e-5 : x / 3 + y <= 1 + 1e-5);
        }
    }

    [Fact]
    public void Folders_give_classes_and_splits_and_skip_bad_files_by_name()
    {
        var bunny = File.ReadAllBytes(Files.Pcd("bunny.pcd"));
        scratch.Write("set/train/rabbit/a.pcd", bunny);
        scratch.Write("set/test/rabbit/b.pcd", bunny);
        scratch.Write("set/train/cat/c.xyz", File.ReadAllBytes(Files.Pcd("kitten.xyz")));
        var bad = scratch.Write("set/train/cat/broken.pcd", CutAtLine(bunny, bunny.Length / 2));
        scratch.Write("set/train/cat/notes.txt", [1, 2, 3]);
        var samples = Files.Read(new PointCloudReader(), Path.Combine(scratch.Root, "set"), out var issues);
        Assert.Equal(3, samples.Count);
        var (file, reason) = Assert.Single(issues.Items);
        Assert.Equal(bad, file);
        Assert.Contains("truncated", reason);
        Assert.Equal(0, samples.Single(s => s.Source.EndsWith("c.xyz")).Label);     // cat < rabbit
        Assert.Equal(1, samples.Single(s => s.Source.EndsWith("a.pcd")).Label);
        Assert.Equal("test", samples.Single(s => s.Source.EndsWith("b.pcd")).Split);
        // The pcd reader alone sees only .pcd files.
        Assert.Equal(2, Files.Read(new PointCloudReader(PointFormat.Pcd), Path.Combine(scratch.Root, "set"), out _).Count);
    }

    public static IEnumerable<object[]> Corruptions()
    {
        // (format, source file or generated kind, corruption, expected words in the reason)
        yield return ["pcd-ascii-truncated", "truncated"];
        yield return ["pcd-points-mismatch", "POINTS"];
        yield return ["pcd-bad-header", "PCD"];
        yield return ["pcd-binary-truncated", "truncated"];
        yield return ["pcd-lzf-truncated", "truncated"];
        yield return ["pcd-lzf-garbled", "LZF"];
        yield return ["pcd-lzf-size", "uncompressed"];
        yield return ["ply-not-ply", "not a PLY"];
        yield return ["ply-binary-truncated", "truncated"];
        yield return ["ply-ascii-truncated", "truncated"];
        yield return ["ply-no-x", "'x'"];
        yield return ["ply-bad-number", "not a number"];
        yield return ["off-truncated", "truncated"];
        yield return ["off-bad-index", "outside"];
        yield return ["off-not-off", "not an OFF"];
        yield return ["xyz-ragged", "columns"];
        yield return ["xyz-text", "not a number"];
        yield return ["xyz-nan", "non-finite"];
        yield return ["kitti-truncated", "16-byte"];
        yield return ["kitti-empty", "empty"];
    }

    // PCL pads binary_compressed files after the LZF payload (milk.pcd: 3,913 bytes), so a cut must reach into the payload.
    (string File, PointFormat Format) MakeCorrupt(string kind)
    {
        var bunnyBytes = File.ReadAllBytes(Files.Pcd("bunny.pcd"));
        var bunny = PointCloudReader.Decode(Files.Pcd("bunny.pcd"), PointFormat.Pcd, Defaults);
        var milk = File.ReadAllBytes(Files.Pcd("milk.pcd"));
        var kitten = File.ReadAllBytes(Files.Pcd("kitten.xyz"));
        var cow = File.ReadAllBytes(Files.Pcd("cow.off"));
        var kitti = File.ReadAllBytes(Files.Shared("lidar/kitti-000008.bin"));
        static byte[] Replace(byte[] b, string from, string to) => Encoding.ASCII.GetBytes(Encoding.ASCII.GetString(b).Replace(from, to));
        int milkBody = Encoding.ASCII.GetString(milk).IndexOf("DATA binary_compressed\n", StringComparison.Ordinal) + "DATA binary_compressed\n".Length;
        (byte[] Bytes, PointFormat Format, string Ext) made = kind switch
        {
            "pcd-ascii-truncated" => (CutAtLine(bunnyBytes, bunnyBytes.Length - 300), PointFormat.Pcd, ".pcd"),
            "pcd-points-mismatch" => (Replace(bunnyBytes, "POINTS 397", "POINTS 398"), PointFormat.Pcd, ".pcd"),
            "pcd-bad-header" => (Replace(bunnyBytes, "FIELDS x y z", "FIELDZ x y z"), PointFormat.Pcd, ".pcd"),
            "pcd-binary-truncated" => (Files.Pcd(bunny, "binary")[..^5], PointFormat.Pcd, ".pcd"),
            "pcd-lzf-truncated" => (milk[..(milkBody + 8 + 40000)], PointFormat.Pcd, ".pcd"),
            "pcd-lzf-garbled" => (Garble(milk, milkBody + 8), PointFormat.Pcd, ".pcd"),
            "pcd-lzf-size" => (Poke(milk, milkBody + 4, 12), PointFormat.Pcd, ".pcd"),
            "ply-not-ply" => (Encoding.ASCII.GetBytes("plx\nformat ascii 1.0\nend_header\n"), PointFormat.Ply, ".ply"),
            "ply-binary-truncated" => (Files.Ply(bunny, "binary_little_endian", false)[..^7], PointFormat.Ply, ".ply"),
            "ply-ascii-truncated" => (CutAtLine(Files.Ply(bunny, "ascii", false), 400, fromEnd: true), PointFormat.Ply, ".ply"),
            "ply-no-x" => (Replace(Files.Ply(bunny, "ascii", false), "property float x", "property float q"), PointFormat.Ply, ".ply"),
            "ply-bad-number" => (Replace(Files.Ply(bunny, "ascii", false), "end_header\n", "end_header\nfoo "), PointFormat.Ply, ".ply"),
            "off-truncated" => (CutAtLine(cow, cow.Length / 2), PointFormat.Off, ".off"),
            "off-bad-index" => ([.. Replace(cow, "OFF\n2904 5804", "OFF\n2904 5805"), .. "3 0 1 99999\n"u8], PointFormat.Off, ".off"),
            "off-not-off" => (cow[1..], PointFormat.Off, ".off"),
            "xyz-ragged" => (ReplaceFirst(kitten, "\n", "\n1 2\n"), PointFormat.Xyz, ".xyz"),
            "xyz-text" => (Encoding.ASCII.GetBytes("1 2 3\n4 five 6\n"), PointFormat.Xyz, ".xyz"),
            "xyz-nan" => (Encoding.ASCII.GetBytes("1 2 3\n4 NaN 6\n"), PointFormat.Xyz, ".xyz"),
            "kitti-truncated" => (kitti[..^3], PointFormat.Kitti, ".bin"),
            "kitti-empty" => ([], PointFormat.Kitti, ".bin"),
            _ => throw new ArgumentException(kind),
        };
        return (scratch.Write(kind + made.Ext, made.Bytes), made.Format);
    }

    static byte[] ReplaceFirst(byte[] b, string from, string to)
    {
        var s = Encoding.ASCII.GetString(b);
        int at = s.IndexOf(from, StringComparison.Ordinal);
        return Encoding.ASCII.GetBytes(s[..at] + to + s[(at + from.Length)..]);
    }

    /// <summary>The bytes up to and including the last newline before <paramref name="at"/>: a file cut between lines.</summary>
    static byte[] CutAtLine(byte[] b, int at, bool fromEnd = false)
    {
        int end = Array.LastIndexOf(b, (byte)'\n', fromEnd ? b.Length - at : at);
        return b[..(end + 1)];
    }

    static byte[] Garble(byte[] b, int from)
    {
        var copy = (byte[])b.Clone();
        // Turn every control byte region into long back-references reaching before the start.
        for (int i = from; i < from + 64; i++) copy[i] = 0xFF;
        return copy;
    }

    static byte[] Poke(byte[] b, int at, uint value)
    {
        var copy = (byte[])b.Clone();
        BitConverter.GetBytes(value).CopyTo(copy, at);
        return copy;
    }

    [Theory]
    [MemberData(nameof(Corruptions))]
    public void Corrupted_copies_are_rejected_with_a_typed_error_naming_the_file(string kind, string expected)
    {
        var (file, format) = MakeCorrupt(kind);
        var e = Assert.Throws<InvalidDataFileException>(() => PointCloudReader.Decode(file, format, Defaults));
        Assert.Equal(file, e.File);
        Assert.Contains(file, e.Message);
        Assert.Contains(expected, e.Reason, StringComparison.OrdinalIgnoreCase);

        // Through the reader (format by name and by extension) it is skipped and reported, not thrown.
        foreach (var reader in new[] { new PointCloudReader(format), new PointCloudReader() })
        {
            var samples = Files.Read(reader, file, out var issues);
            Assert.Empty(samples);
            var (skipped, reason) = Assert.Single(issues.Items);
            Assert.Equal(file, skipped);
            Assert.Equal(e.Reason, reason);
        }
        // Fail-fast runs get the typed error.
        Assert.Throws<InvalidDataFileException>(() =>
            new PointCloudReader(format).ReadAsync(new DataSpec("x", file), new Maskwork.Backend.Data.DataIssueLog(failFast: true), CancellationToken.None).ToBlockingEnumerable().ToList());
    }

    [Fact]
    public async Task Points_parquet_round_trips_and_rejects_non_point_rows()
    {
        var folder = Path.Combine(scratch.Root, "pq");
        var samples = new List<Sample>
        {
            new(PointCloudReader.Decode(Files.Pcd("bunny.pcd"), PointFormat.Pcd, Defaults).Values, [397, 3], 2, "bunny"),
            new(new float[8], [2, 4], null, "ok"),
            new(new float[4], [4], null, "flat"),
        };
        await Maskwork.Backend.Data.SampleParquet.WriteAsync(folder, samples.ToAsyncEnumerable(), CancellationToken.None);
        var back = Files.Read(new PointParquetReader(), folder, out var issues);
        Assert.Equal(2, back.Count);
        Assert.Equal(samples[0].Values, back[0].Values);
        Assert.Equal(2, back[0].Label);
        Assert.Equal("flat", Assert.Single(issues.Items).File);
    }
}
