using System.Globalization;
using System.Runtime.CompilerServices;
using Maskwork.Abstractions;
using Maskwork.Plugins.VisionLanguage.Text;

namespace Maskwork.Plugins.VisionLanguage.Readers;

/// <summary>
/// Captioned images as <see cref="MultiPartSample"/>s with parts <c>image</c> (RGB [3,S,S] composited on a per-sample
/// background), <c>alpha</c> (silhouette [1,S,S]) and <c>text</c> (the caption); label = category. <c>data.part=image</c>
/// (or alpha, text) yields that part as an ordinary sample, so single-modality recipes (image/mae) read the same images.
/// Options: size (32), seed (background colours, 0), test_fraction (0.2), part. Missing captions and unreadable images are
/// named, skipped and counted. <c>maskwork ingest</c> stores the vocabulary of the training captions with the dataset
/// (<see cref="CompanionFiles"/>), so a run on it copies that instead of building one.
/// </summary>
public sealed class CaptionedImageReader(string name, string description) : IDatasetReader, IDatasetCompanions
{
    public static readonly string[] PartNames = ["image", "alpha", "text"];

    public string Name { get; } = name;
    public string Description { get; } = description;

    /// <summary><c>vocab.json</c>: the compact vocabulary of the training captions (as a run would build it), unless only the image or alpha part is read.</summary>
    public IReadOnlyDictionary<string, byte[]> CompanionFiles(DataSpec spec)
    {
        spec = spec with { Reader = Name };
        if (spec.Option("part", "") is "image" or "alpha") return new Dictionary<string, byte[]>();
        var captions = CaptionIndex.Captions(spec);
        if (captions.Count == 0) return new Dictionary<string, byte[]>();
        return new Dictionary<string, byte[]> { [Vocabulary.FileName] = Vocabulary.Build(captions).ToJson() };
    }

    public async IAsyncEnumerable<Sample> ReadAsync(DataSpec spec, IDataIssues issues, [EnumeratorCancellation] CancellationToken ct)
    {
        spec = spec with { Reader = Name };
        int size = int.Parse(spec.Option("size", "32"), CultureInfo.InvariantCulture);
        if (size is < 4 or > 1024) throw new ArgumentException($"data.size must be in 4..1024, got {size}");
        long seed = long.Parse(spec.Option("seed", "0"), CultureInfo.InvariantCulture);
        string? part = spec.Option("part", "") is { Length: > 0 } p ? p : null;
        if (part is not null && !PartNames.Contains(part)) throw new ArgumentException($"data.part must be one of {string.Join(", ", PartNames)}, got '{part}'");
        if (spec.Option("channels", "3") != "3") throw new ArgumentException($"{Name} images are RGB: data.channels must be 3");

        var all = CaptionIndex.Entries(spec with { Split = null });
        var categories = CaptionIndex.Categories(all);
        var entries = spec.Split is null ? all : all.Where(e => e.Split == spec.Split).ToList();
        const int chunk = 64;
        for (int start = 0; start < entries.Count; start += chunk)
        {
            ct.ThrowIfCancellationRequested();
            var batch = entries.Skip(start).Take(chunk).ToArray();
            var decoded = new (float[]? Rgb, float[]? Alpha, string? Error)[batch.Length];
            await Task.Run(() => Parallel.For(0, batch.Length, i =>
                decoded[i] = batch[i].Caption is null ? (null, null, null) : RgbaImage.Load(batch[i].Image, size, seed)), ct);
            for (int i = 0; i < batch.Length; i++)
            {
                var e = batch[i];
                // Captionless images are skipped for every part, so data.part=image reads exactly the pairs' images.
                if (e.Caption is null) { issues.Skip(e.Image, e.Problem ?? "no caption"); continue; }
                if (decoded[i].Error is { } error) { issues.Skip(e.Image, error); continue; }
                int label = categories.ToList().IndexOf(e.Category);
                var image = new Sample(decoded[i].Rgb!, [3, size, size], label, e.Image) { Split = e.Split };
                var alpha = new Sample(decoded[i].Alpha!, [1, size, size], label, e.Image) { Split = e.Split };
                if (part == "image") { yield return image; continue; }
                if (part == "alpha") { yield return alpha; continue; }
                var text = new TextSample(e.Caption!, label, e.Image) { Split = e.Split };
                if (part == "text") { yield return text; continue; }
                var parts = new Dictionary<string, Sample> { ["image"] = image, ["alpha"] = alpha, ["text"] = text };
                yield return new MultiPartSample(parts, "image", label, e.Image) { Split = e.Split };
            }
        }
    }
}
