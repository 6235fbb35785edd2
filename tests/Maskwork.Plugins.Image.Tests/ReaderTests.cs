using System.IO.Compression;
using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Plugins.Image.Readers;
using StbImageWriteSharp;

namespace Maskwork.Plugins.Image.Tests;

public class ReaderTests : IDisposable
{
    const string FashionMnist = "/usr/share/datasets/fashion-mnist";
    readonly string dir = Directory.CreateTempSubdirectory("mw-img-").FullName;

    public void Dispose() => Directory.Delete(dir, true);

    static async Task<(List<Sample> Samples, DataIssueLog Issues)> Read(IDatasetReader reader, DataSpec spec)
    {
        var issues = new DataIssueLog();
        var list = new List<Sample>();
        await foreach (var s in reader.ReadAsync(spec, issues, CancellationToken.None)) list.Add(s);
        return (list, issues);
    }

    [Fact]
    public async Task Fashion_mnist_test_split_has_10000_labelled_28x28_images()
    {
        var (samples, issues) = await Read(new IdxReader("fashion-mnist", "fashion-mnist"), new DataSpec("fashion-mnist", "") { Split = "test" });
        Assert.Equal(10000, samples.Count);
        Assert.Equal(0, issues.Count);
        Assert.All(samples.Take(50), s => Assert.Equal(new[] { 1, 28, 28 }, s.Shape));
        Assert.Equal(9, samples[0].Label); // the first test image is an ankle boot
        Assert.Equal(Enumerable.Range(0, 10), samples.Select(s => s.Label!.Value).Distinct().Order());
        Assert.All(samples.Take(50), s => Assert.InRange(s.Values.Max(), 0.5f, 1f));
        Assert.All(samples, s => Assert.Equal("test", s.Split));
    }

    [Fact]
    public async Task Idx_reader_honours_size_and_channel_options()
    {
        var spec = new DataSpec("fashion-mnist", FashionMnist) { Split = "test", Options = new Dictionary<string, string> { ["size"] = "32", ["channels"] = "3" } };
        var reader = new IdxReader("fashion-mnist", "fashion-mnist");
        await foreach (var s in reader.ReadAsync(spec, new DataIssueLog(), CancellationToken.None))
        {
            Assert.Equal(new[] { 3, 32, 32 }, s.Shape);
            Assert.Equal(s.Values.AsSpan(0, 1024).ToArray(), s.Values.AsSpan(1024, 1024).ToArray()); // grey → equal planes
            break;
        }
    }

    async Task<string> CopyTestSplit(Func<byte[], byte[]> mutateImages)
    {
        string folder = Path.Combine(dir, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        File.Copy(Path.Combine(FashionMnist, "t10k-labels-idx1-ubyte.gz"), Path.Combine(folder, "t10k-labels-idx1-ubyte.gz"));
        byte[] images;
        await using (var gz = new GZipStream(File.OpenRead(Path.Combine(FashionMnist, "t10k-images-idx3-ubyte.gz")), CompressionMode.Decompress))
        using (var ms = new MemoryStream()) { await gz.CopyToAsync(ms); images = ms.ToArray(); }
        await File.WriteAllBytesAsync(Path.Combine(folder, "t10k-images-idx3-ubyte"), mutateImages(images)); // uncompressed works too
        return folder;
    }

    [Fact]
    public async Task Uncompressed_idx_files_read_the_same()
    {
        var folder = await CopyTestSplit(b => b);
        var (samples, issues) = await Read(new IdxReader("fashion-mnist", "fashion-mnist"), new DataSpec("fashion-mnist", folder) { Split = "test" });
        Assert.Equal(10000, samples.Count);
        Assert.Equal(0, issues.Count);
    }

    [Theory]
    [InlineData("truncated", "truncated")]
    [InlineData("magic", "magic")]
    public async Task Corrupted_idx_files_are_named_and_skipped(string corruption, string expected)
    {
        var folder = await CopyTestSplit(b => corruption == "truncated" ? b.AsSpan(0, b.Length - 1000).ToArray() : [0, 0, 9, 9, .. b.AsSpan(4)]);
        var (samples, issues) = await Read(new IdxReader("fashion-mnist", "fashion-mnist"), new DataSpec("fashion-mnist", folder) { Split = "test" });
        Assert.Empty(samples);
        var (file, reason) = Assert.Single(issues.Items);
        Assert.EndsWith("t10k-images-idx3-ubyte", file);
        Assert.Contains(expected, reason);
    }

    [Fact]
    public async Task Missing_idx_folder_says_what_to_do()
    {
        var e = await Assert.ThrowsAsync<DirectoryNotFoundException>(() => Read(new IdxReader("mnist", "mnist-nowhere"), new DataSpec("mnist", Path.Combine(dir, "none"))));
        Assert.Contains("MASKWORK_DATA", e.Message);
    }

    static void WriteImage(string path, int w, int h, int comps, bool jpeg, int seed)
    {
        var rng = new Random(seed);
        var data = new byte[w * h * comps];
        rng.NextBytes(data);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var fs = File.Create(path);
        var c = comps switch { 1 => ColorComponents.Grey, 2 => ColorComponents.GreyAlpha, 3 => ColorComponents.RedGreenBlue, _ => ColorComponents.RedGreenBlueAlpha };
        if (jpeg) new ImageWriter().WriteJpg(data, w, h, c, fs, 90);
        else new ImageWriter().WritePng(data, w, h, c, fs);
    }

    /// <summary>Mixed PNG/JPEG, grey/RGB/RGBA, different sizes, two class folders, plus a truncated JPEG and a text file named .png.</summary>
    public static string MakeMixedFolder(string root)
    {
        WriteImage(Path.Combine(root, "cats", "a.png"), 20, 30, 1, false, 1);
        WriteImage(Path.Combine(root, "cats", "b.png"), 40, 40, 3, false, 2);
        WriteImage(Path.Combine(root, "cats", "c.png"), 28, 28, 4, false, 3);
        WriteImage(Path.Combine(root, "dogs", "d.jpg"), 50, 35, 3, true, 4);
        WriteImage(Path.Combine(root, "dogs", "e.jpeg"), 64, 64, 1, true, 5);
        WriteImage(Path.Combine(root, "dogs", "f.png"), 33, 17, 2, false, 6);
        WriteImage(Path.Combine(root, "dogs", "broken.jpg"), 60, 60, 3, true, 7);
        var jpg = File.ReadAllBytes(Path.Combine(root, "dogs", "broken.jpg"));
        File.WriteAllBytes(Path.Combine(root, "dogs", "broken.jpg"), jpg.AsSpan(0, jpg.Length / 2).ToArray());
        File.WriteAllText(Path.Combine(root, "cats", "notes.png"), "this is not an image\n");
        File.WriteAllText(Path.Combine(root, "cats", "readme.txt"), "ignored: not an image extension\n");
        return root;
    }

    [Fact]
    public async Task Image_folder_reads_mixed_files_and_skips_broken_ones_by_name()
    {
        string root = MakeMixedFolder(Path.Combine(dir, "mixed"));
        var (samples, issues) = await Read(new ImageFolderReader(), new DataSpec("image-folder", root));
        Assert.Equal(6, samples.Count);
        Assert.All(samples, s => Assert.Equal(new[] { 3, 32, 32 }, s.Shape));
        Assert.All(samples, s => Assert.All(s.Values, v => Assert.InRange(v, 0f, 1f)));
        Assert.Equal(new int?[] { 0, 0, 0, 1, 1, 1 }, samples.Select(s => s.Label));
        Assert.Equal(2, issues.Count);
        var byFile = issues.Items.ToDictionary(i => Path.GetFileName(i.File), i => i.Reason);
        Assert.Contains("truncated JPEG", byFile["broken.jpg"]);
        Assert.Contains("not a PNG or JPEG", byFile["notes.png"]);
    }

    [Fact]
    public async Task Image_folder_converts_to_the_requested_size_and_channels()
    {
        string root = MakeMixedFolder(Path.Combine(dir, "mixed1"));
        var spec = new DataSpec("image-folder", root) { Options = new Dictionary<string, string> { ["size"] = "16", ["channels"] = "1" } };
        var (samples, _) = await Read(new ImageFolderReader(), spec);
        Assert.All(samples, s => Assert.Equal(new[] { 1, 16, 16 }, s.Shape));
    }

    [Fact]
    public async Task Unlabelled_folder_and_split_folders()
    {
        string flat = Path.Combine(dir, "flat");
        WriteImage(Path.Combine(flat, "x.png"), 8, 8, 3, false, 1);
        var (a, _) = await Read(new ImageFolderReader(), new DataSpec("image-folder", flat));
        Assert.Null(Assert.Single(a).Label);

        string split = Path.Combine(dir, "split");
        WriteImage(Path.Combine(split, "train", "cat", "1.png"), 8, 8, 3, false, 1);
        WriteImage(Path.Combine(split, "test", "dog", "2.png"), 8, 8, 3, false, 2);
        var (train, _) = await Read(new ImageFolderReader(), new DataSpec("image-folder", split) { Split = "train" });
        var s = Assert.Single(train);
        Assert.Equal(("train", 0), (s.Split, s.Label));
        var (all, _) = await Read(new ImageFolderReader(), new DataSpec("image-folder", split));
        Assert.Equal(new int?[] { 1, 0 }, all.Select(x => x.Label)); // test/dog sorts before train/cat; labels by class name
    }

    [Fact]
    public void Fit_composites_alpha_and_resizes_the_shorter_side_then_crops()
    {
        // 4×2 RGBA: left half opaque white, right half transparent white → 1 channel, 2×2 centre crop.
        byte[] px = new byte[4 * 2 * 4];
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 4; x++) { int i = (y * 4 + x) * 4; px[i] = px[i + 1] = px[i + 2] = 255; px[i + 3] = (byte)(x < 2 ? 255 : 0); }
        var values = ImageFit.Fit(px, 4, 2, 4, new ImageFit.Target(2, 1));
        Assert.Equal(4, values.Length);
        Assert.Equal(1f, values[0], 3);
        Assert.Equal(0f, values[1], 3);
    }
}
