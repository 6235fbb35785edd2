using System.Runtime.CompilerServices;
using Maskwork.Abstractions;
using StbImageSharp;

namespace Maskwork.Plugins.Video.Readers;

/// <summary>
/// <c>frame-folder</c>: one sub-folder of PNG/JPEG frames per clip (frames in name order), each clip one uint8
/// sample [T, S, S, C] fitted like the <c>video</c> reader's frames (shorter side to data.size, bilinear,
/// centre crop, grey or RGB). The folder above a clip folder is its class (sorted names → 0..K−1) unless it
/// is the root; a train/val/test level sets the split. A frame that cannot be decoded skips its clip, named.
/// </summary>
public sealed class FrameFolderReader : IDatasetReader
{
    static readonly string[] Extensions = [".png", ".jpg", ".jpeg"];
    static readonly string[] SplitNames = ["train", "val", "test"];

    public string Name => "frame-folder";
    public string Description => "one sub-folder of PNG/JPEG frames per clip; class from the folder above, train/val/test folders as splits; data.size, data.channels";

    public async IAsyncEnumerable<Sample> ReadAsync(DataSpec spec, IDataIssues issues, [EnumeratorCancellation] CancellationToken ct)
    {
        var o = VideoReadOptions.From(spec);
        if (!Directory.Exists(spec.Path)) throw new DirectoryNotFoundException($"frame folder '{spec.Path}' does not exist (use --data frame-folder:<folder of clip folders>)");
        var clips = Directory.EnumerateDirectories(spec.Path, "*", SearchOption.AllDirectories).Prepend(spec.Path)
            .Select(d => (Dir: d, Frames: Directory.EnumerateFiles(d).Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant())).Order(StringComparer.Ordinal).ToArray()))
            .Where(c => c.Frames.Length > 0).OrderBy(c => c.Dir, StringComparer.Ordinal).ToList();
        if (clips.Count == 0) throw new FileNotFoundException($"no clip folders (folders of .png/.jpg frames) under '{spec.Path}'");
        var described = clips.Select(c => (c.Dir, c.Frames, Info: Describe(spec.Path, c.Dir))).ToList();
        var classes = described.Where(c => c.Info.Class is not null).Select(c => c.Info.Class!).Distinct().Order(StringComparer.Ordinal).ToList();
        foreach (var (clipDir, frames, info) in described)
        {
            ct.ThrowIfCancellationRequested();
            if (spec.Split is not null && info.Split is not null && info.Split != spec.Split) continue;
            var fitted = new byte[frames.Length][];
            var errors = new string?[frames.Length];
            await Task.Run(() => Parallel.For(0, frames.Length, i => (fitted[i], errors[i]) = Decode(frames[i], o.Size, o.Channels)), ct);
            int bad = Array.FindIndex(errors, e => e is not null);
            if (bad >= 0) { issues.Skip(frames[bad], $"{errors[bad]} (clip {clipDir} skipped)"); continue; }
            var data = new byte[fitted.Sum(f => f.Length)];
            for (int i = 0, at = 0; i < fitted.Length; at += fitted[i].Length, i++) fitted[i].CopyTo(data, at);
            int? label = info.Class is { } c ? classes.IndexOf(c) : null;
            yield return Sample.Typed(data, SampleDType.UInt8, [frames.Length, o.Size, o.Size, o.Channels], label, clipDir, normalized: true) with { Split = info.Split };
        }
    }

    static (string? Class, string? Split) Describe(string root, string clipDir)
    {
        var dirs = Path.GetRelativePath(root, clipDir).Split(Path.DirectorySeparatorChar).Where(d => d != ".").ToArray();
        var above = dirs.Length > 0 ? dirs[..^1] : [];
        string? split = dirs.Select(d => d.ToLowerInvariant()).FirstOrDefault(SplitNames.Contains);
        string? cls = above.LastOrDefault(d => !SplitNames.Contains(d.ToLowerInvariant()));
        return (cls, split);
    }

    static (byte[] Frame, string? Error) Decode(string file, int size, int channels)
    {
        try
        {
            var bytes = File.ReadAllBytes(file);
            if (bytes.Length < 8) return ([], "not an image (too short)");
            bool png = bytes[0] == 0x89 && bytes[1] == (byte)'P', jpeg = bytes[0] == 0xFF && bytes[1] == 0xD8;
            if (!png && !jpeg) return ([], "not a PNG or JPEG file (unknown signature)");
            if (png && bytes.AsSpan(Math.Max(0, bytes.Length - 64)).IndexOf("IEND"u8) < 0) return ([], "truncated PNG (no IEND chunk)");
            if (jpeg && bytes.AsSpan(Math.Max(0, bytes.Length - 64)).IndexOf([(byte)0xFF, (byte)0xD9]) < 0) return ([], "truncated JPEG (no end-of-image marker)");
            var image = ImageResult.FromMemory(bytes, channels == 1 ? ColorComponents.Grey : ColorComponents.RedGreenBlue);
            return (FrameFit.Fit(image.Data, image.Width, image.Height, channels, size), null);
        }
        catch (IOException e) { return ([], $"cannot read: {e.Message}"); }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or IndexOutOfRangeException) { return ([], $"cannot decode image: {e.Message}"); }
    }
}

/// <summary>Fits an interleaved uint8 frame [H,W,C] to [S,S,C]: shorter side scaled to S (bilinear), centre crop.</summary>
public static class FrameFit
{
    public static byte[] Fit(byte[] pixels, int width, int height, int channels, int size)
    {
        if (width == size && height == size) return pixels;
        double scale = size / (double)Math.Min(width, height);
        int rw = Math.Max(size, (int)Math.Round(width * scale)), rh = Math.Max(size, (int)Math.Round(height * scale));
        int ox = (rw - size) / 2, oy = (rh - size) / 2;
        var result = new byte[size * size * channels];
        for (int y = 0; y < size; y++)
        {
            double sy = Math.Clamp((y + oy + 0.5) / rh * height - 0.5, 0, height - 1);
            int y0 = (int)sy, y1 = Math.Min(y0 + 1, height - 1);
            double fy = sy - y0;
            for (int x = 0; x < size; x++)
            {
                double sx = Math.Clamp((x + ox + 0.5) / rw * width - 0.5, 0, width - 1);
                int x0 = (int)sx, x1 = Math.Min(x0 + 1, width - 1);
                double fx = sx - x0;
                for (int c = 0; c < channels; c++)
                {
                    double v = (1 - fy) * ((1 - fx) * pixels[(y0 * width + x0) * channels + c] + fx * pixels[(y0 * width + x1) * channels + c])
                             + fy * ((1 - fx) * pixels[(y1 * width + x0) * channels + c] + fx * pixels[(y1 * width + x1) * channels + c]);
                    result[(y * size + x) * channels + c] = (byte)Math.Clamp(Math.Round(v), 0, 255);
                }
            }
        }
        return result;
    }
}
