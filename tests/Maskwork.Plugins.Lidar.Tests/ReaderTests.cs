using System.Buffers.Binary;

namespace Maskwork.Plugins.Lidar.Tests;

/// <summary>The <c>lidar</c> reader on the shared KITTI scan and the b9 aerial tile, and on corrupted copies.</summary>
public sealed class ReaderTests : IDisposable
{
    readonly string root = Directory.CreateTempSubdirectory("mw-lidar-reader-").FullName;
    public void Dispose() => Directory.Delete(root, true);

    [Fact]
    public async Task The_kitti_scan_is_cropped_to_the_front_view_and_range()
    {
        var bytes = File.ReadAllBytes(Shared.Kitti);
        int total = bytes.Length / 16, inside = 0;
        for (int i = 0; i < total; i++)
        {
            float x = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * 16)), y = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * 16 + 4));
            float z = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * 16 + 8));
            bool box = x >= 0 && x < 70.4 && y >= -40 && y < 40 && z >= -3 && z < 1;
            if (box && Math.Abs(Math.Atan2(y, x)) <= Math.PI / 4) inside++;
        }
        var (all, issues) = await Shared.Read(Shared.Kitti);
        Assert.Equal(0, issues.Count);
        Assert.Equal([total, 4], all[0].Shape);
        var (front, _) = await Shared.Read(Shared.Kitti, ("range", "0,-40,-3,70.4,40,1"), ("fov", "90"));
        Assert.Equal([inside, 4], front[0].Shape);
        Assert.InRange(inside, total / 10, total - 1);
        var v = front[0].Values;
        for (int i = 0; i < inside; i++) Assert.True(v[i * 4] >= 0 && Math.Abs(Math.Atan2(v[i * 4 + 1], v[i * 4])) <= Math.PI / 4 + 1e-6);
    }

    [Fact]
    public async Task The_b9_tile_reads_with_labels_about_its_centre()
    {
        var (s, issues) = await Shared.Read(Shared.B9, ("origin", "centre"), ("labels", "label"));
        Assert.Equal(0, issues.Count);
        Assert.Equal([22300, 5], s[0].Shape);
        var v = s[0].Values;
        var labels = Enumerable.Range(0, 22300).Select(i => (int)v[i * 5 + 4]).GroupBy(l => l).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(1567, labels[0]);
        Assert.Equal(314, labels[1]);
        Assert.Equal(566, labels[2]);
        Assert.Equal(19853, labels[-1]);
        // About the centre of x/y at the lowest z: x and y straddle 0, z starts at 0.
        var xs = Enumerable.Range(0, 22300).Select(i => v[i * 5]).ToArray();
        var zs = Enumerable.Range(0, 22300).Select(i => v[i * 5 + 2]).ToArray();
        Assert.InRange(xs.Min() + xs.Max(), -0.2f, 0.2f);
        Assert.InRange(zs.Min(), -0.01f, 0.01f);
        Assert.InRange(zs.Max(), 20f, 30f);
    }

    [Fact]
    public async Task Corrupted_copies_are_skipped_with_their_reason_and_counted()
    {
        var bytes = File.ReadAllBytes(Shared.Kitti);
        File.WriteAllBytes(Path.Combine(root, "a-good.bin"), bytes);
        File.WriteAllBytes(Path.Combine(root, "b-truncated.bin"), bytes[..(bytes.Length - 7)]);
        var ply = File.ReadAllBytes(Shared.B9);
        File.WriteAllBytes(Path.Combine(root, "c-cut.ply"), ply[..(ply.Length / 2)]);
        File.WriteAllBytes(Path.Combine(root, "d-garbage.pcd"), "this is not a point cloud\n"u8.ToArray());
        File.WriteAllBytes(Path.Combine(root, "e-nan.bin"), Enumerable.Repeat(BitConverter.GetBytes(float.NaN), 8).SelectMany(b => b).ToArray());
        File.WriteAllText(Path.Combine(root, "notes.txt"), "ignored: not a scan extension");
        var (samples, issues) = await Shared.Read(root);
        Assert.Single(samples);
        Assert.EndsWith("a-good.bin", samples[0].Source);
        Assert.Equal(4, issues.Count);
        var reasons = issues.Items.ToDictionary(i => Path.GetFileName(i.File), i => i.Reason);
        Assert.Contains("16-byte", reasons["b-truncated.bin"]);
        Assert.Contains("truncated", reasons["c-cut.ply"]);
        Assert.Contains("non-finite", reasons["e-nan.bin"]);
        Assert.True(reasons.ContainsKey("d-garbage.pcd"));
        // Nothing inside the range: skipped and said so, not a scan of zero points.
        var (none, far) = await Shared.Read(Path.Combine(root, "a-good.bin"), ("range", "500,500,0,510,510,1"));
        Assert.Empty(none);
        Assert.Contains("inside the range", far.Items.Single().Reason);
        await Assert.ThrowsAsync<FileNotFoundException>(() => Shared.Read(Path.Combine(root, "missing")));
        await Assert.ThrowsAsync<ArgumentException>(() => Shared.Read(root, ("fov", "400")));
    }
}
