using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Plugins.Video.Readers;
using StbImageWriteSharp;

namespace Maskwork.Plugins.Video.Tests;

public sealed class ReaderTests : IDisposable
{
    readonly string dir = Path.Combine(Path.GetTempPath(), $"maskwork-frames-{Environment.ProcessId}-{Guid.NewGuid():N}");

    public ReaderTests() => Directory.CreateDirectory(dir);
    public void Dispose() => Directory.Delete(dir, true);

    static async Task<(List<Sample>, DataIssueLog)> Read(IDatasetReader reader, DataSpec spec)
    {
        var issues = new DataIssueLog();
        var list = new List<Sample>();
        await foreach (var s in reader.ReadAsync(spec, issues, CancellationToken.None)) list.Add(s);
        return (list, issues);
    }

    static DataSpec Spec(string reader, string? split, params (string, string)[] options) =>
        new(reader, "") { Split = split, Options = options.ToDictionary(o => o.Item1, o => o.Item2) };

    [Fact]
    public async Task Eight_direction_clips_move_their_item_one_step_per_frame_and_are_pure_functions_of_seed_and_index()
    {
        var (a, _) = await Read(new MovingFashionMnistReader(true), Spec("moving-fashion-mnist-8dir", "train", ("count", "40"), ("label", "direction")));
        var (b, _) = await Read(new MovingFashionMnistReader(true), Spec("moving-fashion-mnist-8dir", "train", ("count", "40"), ("label", "direction")));
        Assert.Equal(40, a.Count);
        Assert.All(a, s => Assert.Equal([8, 64, 64, 1], s.Shape));
        Assert.Equal(a.Select(s => s.RawBytes().ToArray()), b.Select(s => s.RawBytes().ToArray()));
        Assert.True(a.Select(s => s.Label).Distinct().Count() >= 6, "directions should vary");
        foreach (var s in a)
        {
            // The centre of mass moves by the direction's step (3 px, or round(3·cos 45°) = 2 px per axis on diagonals).
            var (x0, y0) = Centre(s, 0);
            var (x7, y7) = Centre(s, 7);
            double angle = s.Label!.Value * Math.PI / 4;
            Assert.Equal(7 * Math.Round(3 * Math.Cos(angle)), x7 - x0, 1);
            Assert.Equal(-7 * Math.Round(3 * Math.Sin(angle)), y7 - y0, 1);
        }
        var (classes, _) = await Read(new MovingFashionMnistReader(true), Spec("moving-fashion-mnist-8dir", "test", ("test_count", "40")));
        Assert.All(classes, s => Assert.Equal("test", s.Split));
        Assert.True(classes.Select(s => s.Label).Distinct().Count() >= 6 && classes.All(s => s.Label is >= 0 and < 10));
        var (both, _) = await Read(new MovingFashionMnistReader(true), Spec("moving-fashion-mnist-8dir", null, ("count", "5"), ("test_count", "3")));
        Assert.Equal(["train", "train", "train", "train", "train", "test", "test", "test"], both.Select(s => s.Split));
    }

    static (double X, double Y) Centre(Sample s, int frame)
    {
        var bytes = s.RawBytes().Slice(frame * 64 * 64, 64 * 64);
        double sum = 0, sx = 0, sy = 0;
        for (int i = 0; i < bytes.Length; i++) { sum += bytes[i]; sx += bytes[i] * (i % 64); sy += bytes[i] * (i / 64); }
        return (sx / sum, sy / sum);
    }

    [Fact]
    public async Task Two_item_clips_bounce_inside_the_frame_and_sum_with_clipping()
    {
        var (clips, _) = await Read(new MovingFashionMnistReader(false), Spec("moving-fashion-mnist", "train", ("count", "20"), ("frames", "20")));
        Assert.All(clips, s => { Assert.Equal([20, 64, 64, 1], s.Shape); Assert.Null(s.Label); });
        // Every frame holds both items' ink (none leaves the frame): the frame's total stays within the clipping loss.
        foreach (var s in clips)
        {
            var totals = Enumerable.Range(0, 20).Select(f => s.RawBytes().Slice(f * 4096, 4096).ToArray().Sum(b => (double)b)).ToArray();
            Assert.True(totals.Min() > 0.5 * totals.Max(), "an item left the frame");
        }
        await Assert.ThrowsAsync<ArgumentException>(async () => await Read(new MovingFashionMnistReader(false), Spec("moving-fashion-mnist", "train", ("label", "class"))));
        var e = await Assert.ThrowsAsync<ArgumentException>(async () => await Read(new MovingFashionMnistReader(true), Spec("moving-fashion-mnist-8dir", "train", ("speed", "9"))));
        Assert.Contains("data.speed", e.Message);
    }

    [Fact]
    public async Task Frame_folders_become_clips_with_classes_splits_and_named_bad_frames()
    {
        void Clip(string path, int frames, int w, int h)
        {
            Directory.CreateDirectory(path);
            for (int f = 0; f < frames; f++)
            {
                var rgb = new byte[w * h * 3];
                for (int i = 0; i < rgb.Length; i++) rgb[i] = (byte)(f * 40 + i % 7);
                using var file = File.Create(Path.Combine(path, $"{f:D3}.png"));
                new ImageWriter().WritePng(rgb, w, h, ColorComponents.RedGreenBlue, file);
            }
        }
        Clip(Path.Combine(dir, "train", "jump", "clip1"), 5, 16, 16);
        Clip(Path.Combine(dir, "train", "walk", "clip2"), 3, 32, 24);
        Clip(Path.Combine(dir, "test", "walk", "clip3"), 4, 16, 16);
        Clip(Path.Combine(dir, "train", "walk", "broken"), 3, 16, 16);
        var frame = Path.Combine(dir, "train", "walk", "broken", "001.png");
        File.WriteAllBytes(frame, File.ReadAllBytes(frame)[..40]);

        var (all, issues) = await Read(new FrameFolderReader(), new DataSpec("frame-folder", dir) { Options = new Dictionary<string, string> { ["size"] = "16", ["channels"] = "1" } });
        Assert.Equal(3, all.Count);
        // In path order: test/walk/clip3, train/jump/clip1, train/walk/clip2 (classes sorted: jump = 0, walk = 1).
        Assert.Equal([[4, 16, 16, 1], [5, 16, 16, 1], [3, 16, 16, 1]], all.Select(s => s.Shape));
        Assert.Equal([1, 0, 1], all.Select(s => s.Label!.Value));
        Assert.Equal(["test", "train", "train"], all.Select(s => s.Split));
        Assert.Equal(frame, Assert.Single(issues.Items).File);
        Assert.Contains("truncated PNG", issues.Items.Single().Reason);
        // Frame order and values: frame f of clip1 is ~f·40 grey.
        Assert.InRange(all[1].RawBytes()[2 * 256 + 5], 80, 86);
    }
}
