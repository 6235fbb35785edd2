using System.Text.Json;
using System.Text.Json.Nodes;
using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Plugins.VisionLanguage.Readers;

namespace Maskwork.Plugins.VisionLanguage.Tests;

/// <summary>A fact that needs the npm emoji package (test.sh fetches it with build/fetch-emoji.sh); skipped, saying so, when it is absent.</summary>
public sealed class EmojiFactAttribute : FactAttribute
{
    public EmojiFactAttribute()
    {
        if (!File.Exists(Path.Combine(EmojiPackage.DefaultRoot, "emoji.json")))
            Skip = $"the npm package {EmojiPackage.Name} {EmojiPackage.Version} is not at {EmojiPackage.DefaultRoot}: run {EmojiPackage.FetchCommand} (test.sh does)";
    }
}

public class EmojiReaderTests
{
    static DataSpec Spec(string path, params (string Key, string Value)[] options) =>
        new("emoji", path) { Options = options.ToDictionary(o => o.Key, o => o.Value) };

    [EmojiFact]
    public void TheRealPackageReadsWithNamesCategoriesAndConceptSplits()
    {
        var root = EmojiPackage.DefaultRoot;
        using var json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(root, "emoji.json")));
        var listed = json.RootElement.EnumerateArray().ToList();
        var issues = new DataIssueLog();
        var all = Stamps.Read(Spec("", ("size", "16")), issues).Cast<MultiPartSample>().ToList();
        // Every base emoji of emoji.json is read (16.0.0 ships all their Google PNGs), none skipped.
        Assert.True(listed.Count > 1800, $"{listed.Count} emoji listed");
        Assert.Equal(0, issues.Count);
        Assert.Equal(listed.Count, all.Count);
        var categories = listed.Select(e => e.GetProperty("category").GetString()!).Distinct().Order(StringComparer.Ordinal).ToList();
        Assert.Equal(10, categories.Count);
        Assert.Equal(categories.Count, all.Select(s => s.Label).Distinct().Count());
        var grinning = all.Single(s => Path.GetFileName(s.Source) == "1f600.png");
        Assert.Equal("grinning face.", ((TextSample)grinning.Parts["text"]).Text);
        Assert.Equal("Smileys & Emotion", categories[grinning.Label!.Value]);
        Assert.Equal([3, 16, 16], grinning.Parts["image"].Shape);
        var alpha = grinning.Parts["alpha"].Values;
        Assert.True(alpha.Max() > 0.99f && alpha.Min() < 0.01f, "an emoji is opaque inside and transparent around");
        // Splits go by concept (short name without variant suffixes): no concept in both, about a fifth in test.
        var concept = listed.ToDictionary(e => e.GetProperty("image").GetString()!, e => CaptionIndex.Concept(e.GetProperty("short_name").GetString()!));
        Assert.All(all.GroupBy(s => concept[Path.GetFileName(s.Source)]), g => Assert.Single(g.Select(s => s.Split).Distinct()));
        Assert.InRange(all.Count(s => s.Split == "test") / (double)all.Count, 0.14, 0.26);
        // Subcategories as labels, and the training captions a vocabulary is built from.
        var sub = Stamps.Read(Spec("", ("size", "4"), ("label", "subcategory")), new DataIssueLog());
        Assert.True(sub.Select(s => s.Label).Distinct().Count() > 50);
        Assert.Equal(all.Count(s => s.Split == "train"), CaptionIndex.Captions(Spec("")).Count);
    }

    [EmojiFact]
    public void CorruptedCopiesAreNamedSkippedAndCounted()
    {
        var dir = Path.Combine(Path.GetTempPath(), "mw-vl-emoji-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            // A copy of the first 12 emoji; then: a truncated PNG, a missing PNG, an entry without its image field, an entry that is not an object.
            var entries = JsonNode.Parse(File.ReadAllText(Path.Combine(EmojiPackage.DefaultRoot, "emoji.json")))!.AsArray().Take(12).Select(n => n!.DeepClone()).ToList();
            Directory.CreateDirectory(Path.Combine(dir, EmojiPackage.ImageFolder));
            string Png(int i) => Path.Combine(dir, EmojiPackage.ImageFolder, (string)entries[i]!["image"]!);
            foreach (var e in entries) File.Copy(Path.Combine(EmojiPackage.DefaultRoot, EmojiPackage.ImageFolder, (string)e!["image"]!), Path.Combine(dir, EmojiPackage.ImageFolder, (string)e["image"]!));
            var bytes = File.ReadAllBytes(Png(1));
            File.WriteAllBytes(Png(1), bytes[..(bytes.Length / 2)]);
            string truncated = Png(1), missing = Png(4);
            File.Delete(missing);
            entries[7]!.AsObject().Remove("image");
            entries[9] = JsonValue.Create(42);
            File.WriteAllText(Path.Combine(dir, "emoji.json"), new JsonArray([.. entries]).ToJsonString());
            var issues = new DataIssueLog();
            var samples = Stamps.Read(Spec(dir), issues);
            Assert.Equal(8, samples.Count);
            Assert.Equal(4, issues.Count);
            var reasons = issues.Items.ToDictionary(i => i.File, i => i.Reason);
            Assert.Contains("truncated PNG", reasons[truncated]);
            Assert.StartsWith("image missing", reasons[missing]);
            string json = Path.Combine(dir, "emoji.json");
            Assert.Contains("entry 7", reasons[json + "#7"]);
            Assert.Contains("has no image", reasons[json + "#7"]);
            Assert.Contains("not an object", reasons[json + "#9"]);
            // Broken entries and missing images give no caption to the vocabulary either; a truncated PNG's caption is still listed.
            Assert.Equal(entries.Count - 3, CaptionIndex.Entries(Spec(dir)).Count(e => e.Caption is not null));
            // Fail-fast runs stop at the first one, naming it.
            var fail = Assert.Throws<InvalidDataFileException>(() => Stamps.Read(Spec(dir), new DataIssueLog(failFast: true)));
            Assert.Equal(truncated, fail.File);
            // An emoji.json that is not JSON is named.
            File.WriteAllText(json, "[{\"name\":");
            Assert.Equal(json, Assert.Throws<InvalidDataFileException>(() => Stamps.Read(Spec(dir), new DataIssueLog())).File);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Fact]
    public void AMissingPackageSaysWhichScriptFetchesIt()
    {
        var e = Assert.Throws<DirectoryNotFoundException>(() => CaptionIndex.Entries(Spec("/nonexistent/emoji-package")));
        Assert.Contains(EmojiPackage.FetchCommand, e.Message);
        Assert.Contains($"npm pack {EmojiPackage.Name}@{EmojiPackage.Version}", e.Message);
        Assert.Equal("grinning face.", EmojiPackage.Sentence("GRINNING FACE"));
        Assert.Equal("keycap: *.", EmojiPackage.Sentence("KEYCAP: *"));
    }
}
