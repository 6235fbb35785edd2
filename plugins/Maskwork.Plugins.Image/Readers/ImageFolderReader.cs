using System.Runtime.CompilerServices;
using Maskwork.Abstractions;
using StbImageSharp;

namespace Maskwork.Plugins.Image.Readers;

/// <summary>
/// PNG and JPEG files under a folder, any size and colour mode, fitted to the recipe's size and
/// channels. Labels come from the first sub-folder level (sorted names → 0..K-1) when there is one;
/// a first level named train/val/test is taken as the split. Corrupt files are named and skipped.
/// </summary>
public sealed class ImageFolderReader : IDatasetReader
{
    static readonly string[] Extensions = [".png", ".jpg", ".jpeg"];
    static readonly string[] SplitNames = ["train", "val", "test"];

    public string Name => "image-folder";
    public string Description => "PNG/JPEG files under a folder; labels from sub-folder names; train/val/test folders as splits";

    public async IAsyncEnumerable<Sample> ReadAsync(DataSpec spec, IDataIssues issues, [EnumeratorCancellation] CancellationToken ct)
    {
        if (!Directory.Exists(spec.Path)) throw new DirectoryNotFoundException($"image folder '{spec.Path}' does not exist (use --data image-folder:<folder>)");
        var target = ImageFit.Target.From(spec, 32, 3);
        var files = Directory.EnumerateFiles(spec.Path, "*", SearchOption.AllDirectories)
            .Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new FileNotFoundException($"no .png/.jpg/.jpeg files under '{spec.Path}'");

        var entries = files.Select(f => Describe(spec.Path, f)).ToList();
        var classes = entries.Where(e => e.Class is not null).Select(e => e.Class!).Distinct().Order(StringComparer.Ordinal).ToList();
        entries = entries.Where(e => spec.Split is null || e.Split is null || e.Split == spec.Split).ToList();

        const int chunk = 64;
        for (int start = 0; start < entries.Count; start += chunk)
        {
            ct.ThrowIfCancellationRequested();
            var part = entries.Skip(start).Take(chunk).ToArray();
            var decoded = new (float[]? Values, string? Error)[part.Length];
            await Task.Run(() => Parallel.For(0, part.Length, i => decoded[i] = Decode(part[i].File, target)), ct);
            for (int i = 0; i < part.Length; i++)
            {
                if (decoded[i].Error is { } error) { issues.Skip(part[i].File, error); continue; }
                int? label = part[i].Class is { } c ? classes.IndexOf(c) : null;
                yield return new Sample(decoded[i].Values!, [target.Channels, target.Size, target.Size], label, part[i].File) { Split = part[i].Split };
            }
        }
    }

    sealed record Entry(string File, string? Class, string? Split);

    static Entry Describe(string root, string file)
    {
        var parts = Path.GetRelativePath(root, file).Split(Path.DirectorySeparatorChar);
        string? split = null;
        int i = 0;
        if (parts.Length > 1 && SplitNames.Contains(parts[0].ToLowerInvariant())) { split = parts[0].ToLowerInvariant(); i = 1; }
        string? cls = parts.Length - i > 1 ? parts[i] : null;
        return new Entry(file, cls, split);
    }

    /// <summary>Decodes and fits one file, or says why it cannot be used.</summary>
    public static (float[]? Values, string? Error) Decode(string file, ImageFit.Target target)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(file); }
        catch (IOException e) { return (null, $"cannot read: {e.Message}"); }
        if (Validate(bytes) is { } problem) return (null, problem);
        try
        {
            var image = ImageResult.FromMemory(bytes, ColorComponents.Default);
            int comps = image.Comp switch
            {
                ColorComponents.Grey => 1, ColorComponents.GreyAlpha => 2, ColorComponents.RedGreenBlue => 3, _ => 4,
            };
            if (image.Width <= 0 || image.Height <= 0 || image.Data.Length < image.Width * image.Height * comps)
                return (null, "decoded image is empty");
            return (ImageFit.Fit(image.Data, image.Width, image.Height, comps, target), null);
        }
        catch (Exception e)
        {
            return (null, $"cannot decode image: {e.Message}");
        }
    }

    /// <summary>Container-level checks the decoder is lenient about: signatures, PNG IEND, JPEG EOI (truncation).</summary>
    static string? Validate(byte[] b)
    {
        ReadOnlySpan<byte> png = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
        if (b.Length >= 8 && b.AsSpan(0, 8).SequenceEqual(png))
            return b.AsSpan(Math.Max(0, b.Length - 64)).IndexOf("IEND"u8) >= 0 ? null : "truncated PNG (no IEND chunk)";
        if (b.Length >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF)
        {
            var tail = b.AsSpan(Math.Max(0, b.Length - 64));
            for (int i = tail.Length - 2; i >= 0; i--) if (tail[i] == 0xFF && tail[i + 1] == 0xD9) return null;
            return "truncated JPEG (no end-of-image marker)";
        }
        return "not a PNG or JPEG file (unknown signature)";
    }
}
