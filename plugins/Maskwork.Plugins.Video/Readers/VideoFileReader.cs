using System.Runtime.CompilerServices;
using Maskwork.Abstractions;

namespace Maskwork.Plugins.Video.Readers;

/// <summary>
/// <c>video</c>: video files (mp4, m4v, webm, mkv, avi, mov, mpg, mpeg) decoded by the system's ffmpeg into one
/// uint8 sample [T, S, S, C] per file — every frame (or the first <c>data.max_frames</c>), the shorter side
/// scaled to <c>data.size</c>, the centre cropped, grey or RGB (<c>data.channels</c>). The tokenizer picks a
/// new clip from it every epoch (VideoMAE's sampling), so nothing is decoded twice, in memory or after
/// <c>maskwork ingest --reader video</c>. The path is a file or a folder searched recursively; a
/// <c>train</c>/<c>val</c>/<c>test</c> directory level sets the split and the first other level is the class.
/// A file ffprobe rejects, a short read or a failed decode is named, skipped and counted.
/// </summary>
public sealed class VideoFileReader : IDatasetReader, IDescribesFiles
{
    static readonly string[] Extensions = [".mp4", ".m4v", ".webm", ".mkv", ".avi", ".mov", ".mpg", ".mpeg"];
    static readonly string[] SplitNames = ["train", "val", "test"];

    public string Name => "video";
    public string Description => "video files via the system's ffmpeg (mp4 webm mkv avi mov mpg); file or folder (class/split from folders); data.size, data.channels, data.max_frames, data.decode_timeout_s";

    /// <summary>Whether <paramref name="file"/> has a video extension this reader takes.</summary>
    public static bool IsVideo(string file) => Extensions.Contains(Path.GetExtension(file).ToLowerInvariant());

    /// <summary>What ffprobe says of each file (the stream's size, rate, duration and frame count, before decoding).</summary>
    public IEnumerable<FileFacts> DescribeFiles(DataSpec spec, IDataIssues issues)
    {
        if (Ffmpeg.Version() is null) throw new FileNotFoundException($"the video reader needs ffmpeg and ffprobe, which were not found: {Ffmpeg.InstallHint}");
        foreach (var e in Entries(spec.Path, out _).Where(e => spec.Split is null || e.Split is null || e.Split == spec.Split))
        {
            VideoProbe p;
            try { p = Ffmpeg.Probe(e.File); }
            catch (Exception x) when (x is VideoDecodeException or IOException or System.Text.Json.JsonException) { issues.Skip(e.File, x.Message); continue; }
            var facts = new List<KeyValuePair<string, object>> { new("size", $"{p.Width}x{p.Height}"), new("frame_rate", Math.Round(p.FrameRate, 3)) };
            if (p.Frames is { } n) facts.Add(new("frames", n));
            if (p.DurationS is { } d) facts.Add(new("duration_s", Math.Round(d, 3)));
            yield return new FileFacts(e.File, facts);
        }
    }

    public async IAsyncEnumerable<Sample> ReadAsync(DataSpec spec, IDataIssues issues, [EnumeratorCancellation] CancellationToken ct)
    {
        var o = VideoReadOptions.From(spec);
        int maxFrames = VideoReadOptions.Int(spec, "max_frames", 0), timeoutS = VideoReadOptions.Int(spec, "decode_timeout_s", 600);
        if (maxFrames < 0 || timeoutS <= 0) throw new ArgumentException("data.max_frames must be ≥ 0 (0 = all) and data.decode_timeout_s positive");
        if (Ffmpeg.Version() is null) throw new FileNotFoundException($"the video reader needs ffmpeg and ffprobe, which were not found: {Ffmpeg.InstallHint}");

        var entries = Entries(spec.Path, out var classes);
        entries = entries.Where(e => spec.Split is null || e.Split is null || e.Split == spec.Split).ToList();
        int parallel = Math.Clamp(Environment.ProcessorCount, 1, 4);
        for (int start = 0; start < entries.Count; start += parallel)
        {
            ct.ThrowIfCancellationRequested();
            var part = entries.Skip(start).Take(parallel).ToArray();
            var decoded = new (byte[]? Frames, int Count, string? Error)[part.Length];
            await Task.Run(() => Parallel.For(0, part.Length, i =>
            {
                try
                {
                    var probe = Ffmpeg.Probe(part[i].File);
                    var (frames, count) = Ffmpeg.Decode(part[i].File, probe, o.Size, o.Channels, maxFrames, TimeSpan.FromSeconds(timeoutS));
                    decoded[i] = (frames, count, null);
                }
                catch (VideoDecodeException e) { decoded[i] = (null, 0, e.Message); }
                catch (Exception e) when (e is IOException or System.Text.Json.JsonException) { decoded[i] = (null, 0, e.Message); }
            }), ct);
            for (int i = 0; i < part.Length; i++)
            {
                if (decoded[i].Error is { } error) { issues.Skip(part[i].File, error); continue; }
                int? label = part[i].Class is { } c ? classes.IndexOf(c) : null;
                yield return Sample.Typed(decoded[i].Frames!, SampleDType.UInt8, [decoded[i].Count, o.Size, o.Size, o.Channels], label, part[i].File, normalized: true)
                    with { Split = part[i].Split };
            }
        }
    }

    /// <summary>The video files under <paramref name="path"/> (or the one file), with class and split from their folders.</summary>
    internal static List<(string File, string? Class, string? Split)> Entries(string path, out List<string> classes)
    {
        classes = [];
        if (File.Exists(path)) return [(path, null, null)];
        if (!Directory.Exists(path)) throw new FileNotFoundException($"'{path}' is neither a video file nor a folder (use --data video:<file-or-folder>)");
        var files = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Where(IsVideo).Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new FileNotFoundException($"no video files ({string.Join(' ', Extensions)}) under '{path}'");
        var entries = files.Select(f => Describe(path, f)).ToList();
        classes = entries.Where(e => e.Class is not null).Select(e => e.Class!).Distinct().Order(StringComparer.Ordinal).ToList();
        return entries;
    }

    static (string File, string? Class, string? Split) Describe(string root, string file)
    {
        var dirs = Path.GetRelativePath(root, file).Split(Path.DirectorySeparatorChar)[..^1];
        string? split = dirs.Select(d => d.ToLowerInvariant()).FirstOrDefault(SplitNames.Contains);
        string? cls = dirs.FirstOrDefault(d => !SplitNames.Contains(d.ToLowerInvariant()));
        return (file, cls, split);
    }
}
