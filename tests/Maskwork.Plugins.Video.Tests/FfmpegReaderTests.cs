using System.Diagnostics;
using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Plugins.Video.Readers;

namespace Maskwork.Plugins.Video.Tests;

/// <summary>
/// The <c>video</c> reader on clips that the system's ffmpeg makes here (test.sh installs Debian's ffmpeg):
/// lossless (FFV1) clips of known frames and of ffmpeg's testsrc pattern, compared pixel by pixel, and
/// truncated, garbage and empty copies that must be named, skipped and counted. One class: the tests run
/// one after another (one of them changes MASKWORK_FFMPEG).
/// </summary>
public sealed class FfmpegReaderTests : IDisposable
{
    readonly string dir = Path.Combine(Path.GetTempPath(), $"maskwork-video-{Environment.ProcessId}-{Guid.NewGuid():N}");

    public FfmpegReaderTests() => Directory.CreateDirectory(dir);
    public void Dispose() => Directory.Delete(dir, true);

    static void Ffmpeg(string args, byte[]? stdin = null)
    {
        var info = new ProcessStartInfo("ffmpeg", "-nostdin -hide_banner -v error -y " + args) { RedirectStandardInput = stdin is not null, RedirectStandardError = true, UseShellExecute = false };
        if (stdin is not null) info.Arguments = info.Arguments.Replace("-nostdin ", "");
        using var p = Process.Start(info) ?? throw new InvalidOperationException("ffmpeg did not start (test.sh installs the Debian package ffmpeg)");
        var err = p.StandardError.ReadToEndAsync();
        if (stdin is not null) { p.StandardInput.BaseStream.Write(stdin); p.StandardInput.Close(); }
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"ffmpeg {args}: {err.Result}");
    }

    static byte[] RawOf(string lavfi, string pixFmt, string filter)
    {
        var info = new ProcessStartInfo("ffmpeg", $"-nostdin -hide_banner -v error -f lavfi -i {lavfi} -vf {filter} -pix_fmt {pixFmt} -f rawvideo -") { RedirectStandardOutput = true, UseShellExecute = false };
        using var p = Process.Start(info)!;
        using var ms = new MemoryStream();
        p.StandardOutput.BaseStream.CopyTo(ms);
        p.WaitForExit();
        return ms.ToArray();
    }

    /// <summary>Frames whose every pixel says which frame, row, column and channel it is.</summary>
    static byte[] Pattern(int frames, int size, int channels)
    {
        var b = new byte[frames * size * size * channels];
        for (int f = 0; f < frames; f++)
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                    for (int c = 0; c < channels; c++)
                        b[((f * size + y) * size + x) * channels + c] = (byte)((f * 17 + y * 5 + x * 3 + c * 80) % 256);
        return b;
    }

    static async Task<(List<Sample> Samples, DataIssueLog Issues)> Read(string path, int size, int channels, bool failFast = false, params (string, string)[] extra)
    {
        var options = new Dictionary<string, string> { ["size"] = size.ToString(), ["channels"] = channels.ToString() };
        foreach (var (k, v) in extra) options[k] = v;
        var issues = new DataIssueLog(failFast);
        var list = new List<Sample>();
        await foreach (var s in new VideoFileReader().ReadAsync(new DataSpec("video", path) { Options = options }, issues, CancellationToken.None)) list.Add(s);
        return (list, issues);
    }

    [Theory]
    [InlineData(1, "gray", "gray")]
    [InlineData(3, "rgb24", "gbrp")]
    public async Task Lossless_clips_decode_to_their_exact_frames(int channels, string inFmt, string codecFmt)
    {
        var frames = Pattern(12, 32, channels);
        string file = Path.Combine(dir, "pattern.mkv");
        Ffmpeg($"-f rawvideo -pix_fmt {inFmt} -s 32x32 -r 10 -i - -c:v ffv1 -pix_fmt {codecFmt} {file}", frames);
        var (samples, issues) = await Read(file, 32, channels);
        Assert.Equal(0, issues.Count);
        var s = Assert.Single(samples);
        Assert.Equal([12, 32, 32, channels], s.Shape);
        Assert.Equal(SampleDType.UInt8, s.DType);
        Assert.True(s.Normalized);
        Assert.Equal(frames, s.RawBytes().ToArray());
    }

    [Fact]
    public async Task A_testsrc_clip_is_centre_cropped_pixel_for_pixel_and_resized_to_the_asked_size()
    {
        const string src = "testsrc=size=64x48:rate=10:duration=2";
        string file = Path.Combine(dir, "testsrc.mkv");
        Ffmpeg($"-f lavfi -i {src} -c:v ffv1 -pix_fmt gbrp {file}");
        var expected = RawOf(src, "rgb24", "crop=48:48");
        var (samples, _) = await Read(file, 48, 3);
        var s = Assert.Single(samples);
        Assert.Equal([20, 48, 48, 3], s.Shape);
        Assert.Equal(expected, s.RawBytes().ToArray());

        // An mp4 (H.264, lossy) twice the size, read at 24² grey: probed frame count, the asked shape, the pattern's structure.
        string mp4 = Path.Combine(dir, "testsrc.mp4");
        Ffmpeg($"-f lavfi -i testsrc=size=128x96:rate=10:duration=2 -c:v libx264 -pix_fmt yuv420p {mp4}");
        Assert.Equal(20, Readers.Ffmpeg.Probe(mp4).Frames);
        var small = Assert.Single((await Read(mp4, 24, 1)).Samples);
        Assert.Equal([20, 24, 24, 1], small.Shape);
        var reference = RawOf("testsrc=size=128x96:rate=10:duration=2", "gray", "scale=32:24:flags=bilinear,crop=24:24");
        var got = small.RawBytes().ToArray();
        double meanError = got.Zip(reference, (a, b) => Math.Abs(a - b)).Average();
        Assert.True(meanError < 6, $"mean absolute difference to the lossless reference {meanError:F2} grey levels (H.264 loss only)");
    }

    [Fact]
    public void Inspect_describes_each_file_by_what_ffprobe_says_and_names_the_ones_it_rejects()
    {
        Ffmpeg($"-f lavfi -i testsrc=size=64x48:rate=10:duration=2 -c:v ffv1 {Path.Combine(dir, "a.mkv")}");
        File.WriteAllBytes(Path.Combine(dir, "garbage.avi"), Enumerable.Range(0, 5000).Select(i => (byte)(i * 31 % 251)).ToArray());
        var issues = new DataIssueLog();
        var facts = Assert.Single(new VideoFileReader().DescribeFiles(new DataSpec("video", dir), issues));
        var f = facts.Facts.ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.Equal("64x48", f["size"]);
        Assert.Equal(10.0, f["frame_rate"]);
        Assert.Equal(20, f["frames"]);
        Assert.EndsWith("garbage.avi", Assert.Single(issues.Items).File);
    }

    [Fact]
    public async Task Truncated_garbage_and_empty_files_are_named_skipped_and_counted()
    {
        string good = Path.Combine(dir, "walk", "good.mp4");
        Directory.CreateDirectory(Path.GetDirectoryName(good)!);
        Ffmpeg($"-f lavfi -i testsrc=size=64x64:rate=10:duration=1 -c:v libx264 -pix_fmt yuv420p {good}");
        string mpg = Path.Combine(dir, "walk", "good.mpg");
        Ffmpeg($"-f lavfi -i testsrc=size=64x64:rate=25:duration=2 -c:v mpeg1video -q:v 5 {mpg}");
        var bytes = File.ReadAllBytes(good);
        var mpgBytes = File.ReadAllBytes(mpg);
        Directory.CreateDirectory(Path.Combine(dir, "bad"));
        File.WriteAllBytes(Path.Combine(dir, "bad", "truncated.mp4"), bytes[..(bytes.Length / 2)]);
        File.WriteAllBytes(Path.Combine(dir, "bad", "truncated.mpg"), mpgBytes[..(mpgBytes.Length / 2 + 123)]);
        File.WriteAllBytes(Path.Combine(dir, "bad", "garbage.avi"), Enumerable.Range(0, 5000).Select(i => (byte)(i * 31 % 251)).ToArray());
        File.WriteAllBytes(Path.Combine(dir, "bad", "empty.webm"), []);
        File.WriteAllText(Path.Combine(dir, "bad", "notes.txt"), "not a video: not even looked at");

        var (samples, issues) = await Read(dir, 32, 1);
        Assert.Equal(2, samples.Count);
        Assert.All(samples, s => Assert.Equal(1, s.Label)); // classes from folder names, sorted: bad = 0, walk = 1
        Assert.Equal(4, issues.Count);
        var named = issues.Items.Select(i => Path.GetFileName(i.File)).Order().ToArray();
        Assert.Equal(["empty.webm", "garbage.avi", "truncated.mp4", "truncated.mpg"], named);
        Assert.Contains(issues.Items, i => i.File.EndsWith("truncated.mpg") && i.Reason.Contains("ffmpeg failed"));
        Assert.Contains(issues.Items, i => i.File.EndsWith("truncated.mp4") && i.Reason.Contains("ffprobe rejects it"));

        // Fail fast: the first bad file stops the read, named.
        var e = await Assert.ThrowsAsync<InvalidDataFileException>(() => Read(Path.Combine(dir, "bad"), 32, 1, failFast: true));
        Assert.Contains(Path.Combine(dir, "bad"), e.File);
    }

    [Fact]
    public async Task Max_frames_bounds_the_decode_and_a_missing_ffmpeg_says_what_to_install()
    {
        string file = Path.Combine(dir, "long.mkv");
        Ffmpeg($"-f lavfi -i testsrc=size=32x32:rate=25:duration=4 -c:v ffv1 {file}");
        var (samples, _) = await Read(file, 32, 1, false, ("max_frames", "30"));
        Assert.Equal(30, Assert.Single(samples).Shape[0]);

        Environment.SetEnvironmentVariable("MASKWORK_FFMPEG", Path.Combine(dir, "no-such-ffmpeg"));
        try
        {
            var e = await Assert.ThrowsAsync<FileNotFoundException>(() => Read(file, 32, 1));
            Assert.Contains("apt-get install ffmpeg", e.Message);
        }
        finally { Environment.SetEnvironmentVariable("MASKWORK_FFMPEG", null); }
    }
}
