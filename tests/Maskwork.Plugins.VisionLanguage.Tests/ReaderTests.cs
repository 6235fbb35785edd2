using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Plugins.VisionLanguage.Readers;

namespace Maskwork.Plugins.VisionLanguage.Tests;

public class ReaderTests
{
    [Fact]
    public void TuxPaintStampsReadWithCaptionsCategoriesAndConceptSplits()
    {
        var issues = new DataIssueLog();
        var all = Stamps.Read(new DataSpec("tuxpaint-stamps", "") { Options = new Dictionary<string, string> { ["size"] = "16" } }, issues);
        var pngs = Directory.EnumerateFiles(Stamps.Root, "*.png", SearchOption.AllDirectories).ToList();
        int captionless = pngs.Count(p => !File.Exists(Path.ChangeExtension(p, ".txt")));
        Assert.True(pngs.Count > 700, $"{pngs.Count} stamps installed");
        // Every PNG is either read or skipped with its name and reason; the captionless ones are the skipped ones.
        Assert.Equal(pngs.Count, all.Count + issues.Count);
        Assert.Equal(captionless, issues.Items.Count(i => i.Reason.StartsWith("no caption")));
        var first = Assert.IsType<MultiPartSample>(all[0]);
        Assert.Equal([3, 16, 16], first.Parts["image"].Shape);
        Assert.Equal([1, 16, 16], first.Parts["alpha"].Shape);
        var caption = Assert.IsType<TextSample>(first.Parts["text"]).Text;
        Assert.Equal(File.ReadLines(Path.ChangeExtension(first.Source, ".txt")).First().Trim(), caption);
        var categories = Directory.GetDirectories(Stamps.Root).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        // Labels index all category folders; every folder holding a captioned stamp has samples.
        int captioned = categories.Count(c => Directory.EnumerateFiles(Path.Combine(Stamps.Root, c!), "*.png", SearchOption.AllDirectories).Any(p => File.Exists(Path.ChangeExtension(p, ".txt"))));
        Assert.Equal(captioned, all.Select(s => s.Label).Distinct().Count());
        Assert.Equal(Path.GetRelativePath(Stamps.Root, first.Source).Split('/')[0], categories[first.Label!.Value]);
        // Splits go by concept: no concept in both; about a fifth in test.
        var concepts = all.GroupBy(s => CaptionIndex.Concept(Path.GetFileNameWithoutExtension(s.Source))).ToList();
        Assert.All(concepts, g => Assert.Single(g.Select(s => s.Split).Distinct()));
        double test = all.Count(s => s.Split == "test") / (double)all.Count;
        Assert.InRange(test, 0.12, 0.28);
        Assert.Equal("tux-kiss", CaptionIndex.Concept("tux-kiss1"));
        Assert.Equal("dreydl-gimmel", CaptionIndex.Concept("dreydl-gimmel_mirror"));
        Assert.Equal(CaptionIndex.Concept("bradley"), CaptionIndex.Concept("bradley_mirror"));
    }

    [Fact]
    public void RgbaIsCompositedOnAPerSampleBackgroundAndPartImageIsAnOrdinarySample()
    {
        var dir = Stamps.Copy("food", 6);
        try
        {
            var spec = new DataSpec("image-text", dir) { Options = new Dictionary<string, string> { ["size"] = "24" } };
            var multi = Stamps.Read(spec, new DataIssueLog()).Cast<MultiPartSample>().ToList();
            Assert.Equal(6, multi.Count);
            // Where alpha is 0, the RGB value is the sample's background colour, which differs between samples.
            var backgrounds = new List<float[]>();
            foreach (var s in multi)
            {
                var alpha = s.Parts["alpha"].Values;
                var rgb = s.Parts["image"].Values;
                int corner = Array.FindIndex(alpha, a => a == 0);
                Assert.True(corner >= 0, $"{s.Source}: no transparent pixel");
                var bg = RgbaImage.Background(s.Source, 0);
                for (int c = 0; c < 3; c++) Assert.Equal(bg[c], rgb[c * 24 * 24 + corner], 4);
                backgrounds.Add(bg);
            }
            Assert.True(backgrounds.Select(b => string.Join(',', b)).Distinct().Count() >= 5, "backgrounds should vary per sample");
            Assert.NotEqual(RgbaImage.Background(multi[0].Source, 0), RgbaImage.Background(multi[0].Source, 1));
            // data.part=image: the same images as plain samples, labelled.
            var images = Stamps.Read(spec with { Options = new Dictionary<string, string> { ["size"] = "24", ["part"] = "image" } }, new DataIssueLog());
            Assert.All(images, s => Assert.IsNotType<MultiPartSample>(s));
            Assert.Equal(multi.Select(m => m.Parts["image"].Values), images.Select(s => s.Values));
            Assert.All(images, s => Assert.Equal(0, s.Label));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void CorruptedCopiesAreNamedSkippedAndCounted()
    {
        var dir = Stamps.Copy("animals", 8);
        try
        {
            var files = Directory.EnumerateFiles(dir, "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
            File.Delete(Path.ChangeExtension(files[0], ".txt"));                                   // missing caption
            var bytes = File.ReadAllBytes(files[1]);
            File.WriteAllBytes(files[1], bytes[..(bytes.Length / 2)]);                             // truncated PNG
            File.WriteAllBytes(files[2], "not an image at all"u8.ToArray());                        // not a PNG
            File.WriteAllText(Path.ChangeExtension(files[3], ".txt"), "\n");                        // empty caption
            var issues = new DataIssueLog();
            var samples = Stamps.Read(new DataSpec("image-text", dir), issues);
            Assert.Equal(4, samples.Count);
            Assert.Equal(4, issues.Count);
            var reasons = issues.Items.ToDictionary(i => i.File, i => i.Reason);
            Assert.StartsWith("no caption", reasons[files[0]]);
            Assert.Contains("truncated PNG", reasons[files[1]]);
            Assert.Contains("not a PNG", reasons[files[2]]);
            Assert.Contains("empty caption", reasons[files[3]]);
            // Fail-fast runs stop at the first one, naming it.
            var e = Assert.Throws<InvalidDataFileException>(() => Stamps.Read(new DataSpec("image-text", dir), new DataIssueLog(failFast: true)));
            Assert.Equal(files[0], e.File);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void CsvAndJsonlListsName()
    {
        var dir = Stamps.Copy("plants", 3);
        try
        {
            var pngs = Directory.EnumerateFiles(dir, "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
            var csv = Path.Combine(dir, "list.csv");
            File.WriteAllLines(csv, ["path,caption,category", .. pngs.Select((p, i) => $"\"{Path.GetRelativePath(dir, p)}\",\"caption, number {i}\",{(i == 0 ? "a" : "b")}")]);
            var fromCsv = Stamps.Read(new DataSpec("image-text", csv), new DataIssueLog()).Cast<MultiPartSample>().ToList();
            Assert.Equal(["caption, number 0", "caption, number 1", "caption, number 2"], fromCsv.Select(s => ((TextSample)s.Parts["text"]).Text));
            Assert.Equal([0, 1, 1], fromCsv.Select(s => s.Label!.Value));
            var jsonl = Path.Combine(dir, "list.jsonl");
            File.WriteAllLines(jsonl, pngs.Select(p => $"{{\"path\":\"{p}\",\"caption\":\"a plant\"}}").Append("{broken"));
            var e = Assert.Throws<InvalidDataFileException>(() => Stamps.Read(new DataSpec("image-text", jsonl), new DataIssueLog()));
            Assert.Contains("line 4", e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }
}
