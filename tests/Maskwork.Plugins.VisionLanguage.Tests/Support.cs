using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Plugins.Image.Tokenizers;
using Maskwork.Plugins.VisionLanguage.Readers;
using Maskwork.Plugins.VisionLanguage.Text;

namespace Maskwork.Plugins.VisionLanguage.Tests;

/// <summary>A tokenizer catalog of the given factories (what the host's registry is for a recipe).</summary>
sealed class Catalog(params ITokenizerFactory[] factories) : ITokenizerCatalog
{
    public ITokenizerFactory? Tokenizer(string name) => factories.FirstOrDefault(f => f.Name == name);
    public IReadOnlyList<string> TokenizerNames => factories.Select(f => f.Name).ToList();
    public static Catalog Both => new(new PatchTokenizerFactory(), new TextTokenizerFactory());
}

static class Stamps
{
    public static string Root => CaptionIndex.TuxPaintRoot;

    public static List<Sample> Read(DataSpec spec, DataIssueLog issues)
    {
        var reader = new CaptionedImageReader(spec.Reader, "");
        var list = new List<Sample>();
        var e = reader.ReadAsync(spec, issues, CancellationToken.None).GetAsyncEnumerator();
        while (e.MoveNextAsync().AsTask().GetAwaiter().GetResult()) list.Add(e.Current);
        return list;
    }

    /// <summary>A temporary copy of <paramref name="count"/> captioned stamps of one category folder.</summary>
    public static string Copy(string category, int count)
    {
        var dir = Path.Combine(Path.GetTempPath(), "mw-vl-" + Guid.NewGuid().ToString("N")[..8]);
        var pngs = Directory.EnumerateFiles(Path.Combine(Root, category), "*.png", SearchOption.AllDirectories)
            .Where(f => File.Exists(Path.ChangeExtension(f, ".txt"))).Order(StringComparer.Ordinal).Take(count).ToList();
        foreach (var png in pngs)
        {
            var target = Path.Combine(dir, category, Path.GetFileName(png));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(png, target);
            File.Copy(Path.ChangeExtension(png, ".txt"), Path.ChangeExtension(target, ".txt"));
        }
        return dir;
    }
}
