using System.Text.Json;
using Maskwork.Abstractions;

namespace Maskwork.Plugins.VisionLanguage.Readers;

/// <summary>
/// The npm package <c>emoji-datasource-google</c> (16.0.0): 64×64 RGBA PNGs under <c>img/google/64/</c>, described by
/// <c>emoji.json</c> (name, short name, category, subcategory, image file). Maskwork never fetches it at run time:
/// <c>build/fetch-emoji.sh</c> (which test.sh runs) downloads it once with <c>npm pack</c> into <see cref="DefaultRoot"/>.
/// Each base emoji (skin-tone variations are not listed) is one pair: caption = its name lower-cased into a sentence
/// ("grinning face."), label = its category (<c>data.label=subcategory</c> for the 100-odd subcategories), concept = its
/// short name, so the split never separates an emoji's variants (arrow_left / arrow_right, clock1 / clock130).
/// An entry without the fields, or whose PNG is missing, is named, skipped and counted.
/// </summary>
public static class EmojiPackage
{
    public const string Name = "emoji-datasource-google", Version = "16.0.0";
    public const string ImageFolder = "img/google/64";
    public const string FetchCommand = "build/fetch-emoji.sh";

    /// <summary>Where <c>build/fetch-emoji.sh</c> unpacks the package: <c>${XDG_CACHE_HOME:-$HOME/.cache}/maskwork/npm/emoji-datasource-google-16.0.0/package</c>.</summary>
    public static string DefaultRoot => Path.Combine(NpmCache, $"{Name}-{Version}", "package");

    /// <summary>The cache folder of <c>mw_npm_fetch</c> in build/prereqs.sh.</summary>
    public static string NpmCache
    {
        get
        {
            var cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            if (string.IsNullOrEmpty(cache)) cache = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(cache, "maskwork", "npm");
        }
    }

    /// <summary>The package's entries (one per base emoji, in emoji.json order), split by concept.</summary>
    public static List<CaptionEntry> Entries(string root, double testFraction, string label = "category")
    {
        if (label is not ("category" or "subcategory")) throw new ArgumentException($"data.label for emoji must be category or subcategory, got '{label}'");
        string json = Path.Combine(root, "emoji.json");
        if (!File.Exists(json))
            throw new DirectoryNotFoundException(Directory.Exists(root)
                ? $"'{root}' has no emoji.json: name the unpacked {Name} package folder (the one holding emoji.json and {ImageFolder}/)"
                : $"the emoji package {Name} {Version} is not at '{root}': fetch it once with `{FetchCommand}` (from the Maskwork repository; " +
                  $"it runs `npm pack {Name}@{Version}` into {NpmCache}), or name an unpacked package: --data emoji:<folder>");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllBytes(json)); }
        catch (JsonException e) { throw new InvalidDataFileException(json, $"not JSON: {e.Message}"); }
        using var _ = doc;
        if (doc.RootElement.ValueKind != JsonValueKind.Array) throw new InvalidDataFileException(json, $"expected a JSON array of emoji, found {doc.RootElement.ValueKind}");
        var result = new List<CaptionEntry>();
        int index = -1;
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            index++;
            string where = $"{json} entry {index}";
            if (e.ValueKind != JsonValueKind.Object) { result.Add(Bad($"{json}#{index}", $"{where} is a {e.ValueKind}, not an object")); continue; }
            string? Text(string key) => e.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String && v.GetString()!.Trim().Length > 0 ? v.GetString()!.Trim() : null;
            if (e.TryGetProperty("has_img_google", out var has) && has.ValueKind == JsonValueKind.False) continue; // the package ships no Google image for it
            string? image = Text("image"), name = Text("name"), shortName = Text("short_name"), category = Text(label);
            string id = shortName ?? image ?? $"#{index}";
            var missing = new[] { ("image", image), ("name", name), ("short_name", shortName), (label, category) }.Where(f => f.Item2 is null).Select(f => f.Item1).ToList();
            if (missing.Count > 0) { result.Add(Bad($"{json}#{index}", $"{where} ({id}) has no {string.Join(", ", missing)}")); continue; }
            if (image != Path.GetFileName(image)) { result.Add(Bad($"{json}#{index}", $"{where} ({id}): image '{image}' is not a file name")); continue; }
            string file = Path.Combine(root, ImageFolder, image!);
            string concept = CaptionIndex.Concept(shortName!);
            string split = CaptionIndex.SplitOf(concept, testFraction);
            if (!File.Exists(file)) { result.Add(new CaptionEntry(file, null, $"image missing ({ImageFolder}/{image} is listed for '{shortName}' in emoji.json)", category!, concept, split)); continue; }
            result.Add(new CaptionEntry(file, Sentence(name!), null, category!, concept, split));
        }
        return result;

        static CaptionEntry Bad(string at, string problem) => new(at, null, problem, "", "", "train");
    }

    /// <summary>An emoji name as a caption: "GRINNING FACE" → "grinning face.".</summary>
    public static string Sentence(string name)
    {
        var s = name.Trim().ToLowerInvariant();
        return s.EndsWith('.') || s.EndsWith('!') || s.EndsWith('?') ? s : s + ".";
    }
}
