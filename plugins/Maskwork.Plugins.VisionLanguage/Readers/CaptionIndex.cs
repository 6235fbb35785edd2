using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Maskwork.Abstractions;
using Maskwork.Backend.Data;

namespace Maskwork.Plugins.VisionLanguage.Readers;

/// <summary>One captioned image as listed (before decoding): its caption (null when missing, with the reason), category, concept and split.</summary>
public sealed record CaptionEntry(string Image, string? Caption, string? Problem, string Category, string Concept, string Split);

/// <summary>
/// Lists the image–caption pairs of a data spec without decoding images (readers, and the text tokenizer's
/// vocabulary, which must see exactly the training captions). Splits go by concept — the file stem without
/// mirror/variant suffixes — hashed, so every variant of one concept lands in the same split.
/// </summary>
public static partial class CaptionIndex
{
    public const string TuxPaintRoot = "/usr/share/tuxpaint/stamps";
    static readonly string[] ImageExtensions = [".png", ".jpg", ".jpeg"];

    /// <summary>Every listed pair of <paramref name="spec"/>, split filter applied, in a stable order.</summary>
    public static IReadOnlyList<CaptionEntry> Entries(DataSpec spec)
    {
        double testFraction = double.Parse(spec.Option("test_fraction", "0.2"), CultureInfo.InvariantCulture);
        if (testFraction is < 0 or >= 1) throw new ArgumentException($"data.test_fraction must be in [0, 1), got {testFraction}");
        var all = spec.Reader switch
        {
            "tuxpaint-stamps" => Folder(spec.Path.Length == 0 ? TuxPaintRoot : spec.Path, testFraction, "install the Debian package tuxpaint-stamps-default, or name a stamps folder: --data tuxpaint-stamps:<folder>"),
            "image-text" => ImageText(spec.Path, testFraction),
            "emoji" => EmojiPackage.Entries(spec.Path.Length == 0 ? EmojiPackage.DefaultRoot : spec.Path, testFraction, spec.Option("label", "category")),
            _ => throw new ArgumentException($"reader '{spec.Reader}' has no captions for vl (use tuxpaint-stamps, emoji or image-text)"),
        };
        return spec.Split is null ? all : all.Where(e => e.Split == spec.Split).ToList();
    }

    /// <summary>Captions of the training split (what a vocabulary is built from).</summary>
    public static IReadOnlyList<string> Captions(DataSpec spec) =>
        Entries(spec with { Split = "train" }).Where(e => e.Caption is not null).Select(e => e.Caption!).ToList();

    /// <summary>The categories of <paramref name="entries"/>, sorted: labels are indices into it.</summary>
    public static IReadOnlyList<string> Categories(IEnumerable<CaptionEntry> entries) =>
        entries.Where(e => e.Concept.Length > 0).Select(e => e.Category).Distinct().Order(StringComparer.Ordinal).ToList(); // a broken list entry has no concept, nor a category

    /// <summary>The concept of a file stem: lower-cased, without mirror/flip/variant suffixes and trailing digits.</summary>
    public static string Concept(string stem)
    {
        var s = stem.ToLowerInvariant();
        s = VariantSuffix().Replace(s, "");
        return s.Length == 0 ? stem.ToLowerInvariant() : s;
    }

    [GeneratedRegex(@"([_\-]?(mirror|flip|left|right|alt|\d+))+$")]
    private static partial Regex VariantSuffix();

    /// <summary>The split of <paramref name="concept"/>: hashed, so it never depends on the other entries.</summary>
    internal static string SplitOf(string concept, double testFraction)
    {
        ulong h = 1469598103934665603UL;
        foreach (char c in concept) h = (h ^ c) * 1099511628211UL;
        double u = (SeedMix.Of((long)(h & long.MaxValue), 18) % 1_000_000) / 1e6;
        return u < testFraction ? "test" : "train";
    }

    /// <summary>First line of a caption file, or why there is none.</summary>
    static (string? Caption, string? Problem) ReadCaption(string txt)
    {
        if (!File.Exists(txt)) return (null, $"no caption ({Path.GetFileName(txt)} is missing)");
        try
        {
            using var reader = new StreamReader(txt);
            var line = reader.ReadLine()?.Trim();
            return string.IsNullOrEmpty(line) ? (null, $"empty caption in {Path.GetFileName(txt)}") : (line, null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return (null, $"cannot read caption {txt}: {e.Message}"); }
    }

    /// <summary>Images under a folder with same-named .txt captions; the category is the first folder level.</summary>
    static List<CaptionEntry> Folder(string root, double testFraction, string hint)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"caption folder '{root}' does not exist ({hint})");
        var files = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Where(f => ImageExtensions.Contains(Path.GetExtension(f).ToLowerInvariant())).Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new FileNotFoundException($"no .png/.jpg images under '{root}' ({hint})");
        var result = new List<CaptionEntry>(files.Count);
        foreach (var f in files)
        {
            var rel = Path.GetRelativePath(root, f).Split(Path.DirectorySeparatorChar);
            string category = rel.Length > 1 ? rel[0] : "";
            var (caption, problem) = ReadCaption(Path.ChangeExtension(f, ".txt"));
            string concept = Concept(Path.GetFileNameWithoutExtension(f));
            result.Add(new CaptionEntry(f, caption, problem, category, concept, SplitOf(concept, testFraction)));
        }
        return result;
    }

    /// <summary>image-text: a folder (as <see cref="Folder"/>), or a CSV (path,caption[,category]) / JSONL ({"path","caption","category"}) list.</summary>
    static List<CaptionEntry> ImageText(string path, double testFraction)
    {
        if (path.Length == 0) throw new ArgumentException("image-text needs a path: --data image-text:<folder|list.csv|list.jsonl>");
        if (Directory.Exists(path)) return Folder(path, testFraction, "a folder of images with same-named .txt captions");
        if (!File.Exists(path)) throw new FileNotFoundException($"image-text list '{path}' does not exist (use --data image-text:<folder|list.csv|list.jsonl>)");
        string dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var result = new List<CaptionEntry>();
        bool jsonl = path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase);
        int lineNo = 0;
        foreach (var raw in File.ReadLines(path))
        {
            lineNo++;
            var line = raw.Trim();
            if (line.Length == 0) continue;
            string? image, caption, category = null;
            if (jsonl)
            {
                try
                {
                    using var doc = JsonDocument.Parse(line);
                    image = doc.RootElement.TryGetProperty("path", out var p) ? p.GetString() : null;
                    caption = doc.RootElement.TryGetProperty("caption", out var c) ? c.GetString() : null;
                    if (doc.RootElement.TryGetProperty("category", out var k)) category = k.GetString();
                }
                catch (JsonException e) { throw new InvalidDataFileException(path, $"line {lineNo} is not JSON: {e.Message}"); }
            }
            else
            {
                var fields = SplitCsv(line);
                if (lineNo == 1 && fields.Count > 0 && fields[0].Equals("path", StringComparison.OrdinalIgnoreCase)) continue; // header
                if (fields.Count < 2) throw new InvalidDataFileException(path, $"line {lineNo} has {fields.Count} fields; expected path,caption[,category]");
                image = fields[0]; caption = fields[1]; category = fields.Count > 2 ? fields[2] : null;
            }
            if (string.IsNullOrWhiteSpace(image)) throw new InvalidDataFileException(path, $"line {lineNo} names no image path");
            string full = Path.IsPathRooted(image) ? image : Path.Combine(dir, image);
            string concept = Concept(Path.GetFileNameWithoutExtension(full));
            caption = string.IsNullOrWhiteSpace(caption) ? null : caption.Trim();
            result.Add(new CaptionEntry(full, caption, caption is null ? $"empty caption on line {lineNo} of {path}" : null, category ?? "", concept, SplitOf(concept, testFraction)));
        }
        return result;
    }

    static List<string> SplitCsv(string line)
    {
        var fields = new List<string>();
        var current = new System.Text.StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"') { current.Append('"'); i++; }
                else if (c == '"') quoted = false;
                else current.Append(c);
            }
            else if (c == '"') quoted = true;
            else if (c == ',') { fields.Add(current.ToString()); current.Clear(); }
            else current.Append(c);
        }
        fields.Add(current.ToString());
        return fields;
    }
}
