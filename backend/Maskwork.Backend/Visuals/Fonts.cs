using SkiaSharp;

namespace Maskwork.Backend.Visuals;

/// <summary>
/// The one typeface every run picture uses, loaded by file path: the SkiaSharp native asset we ship
/// (NoDependencies) has no fontconfig, so system font lookup by name finds nothing. Order:
/// <c>MASKWORK_FONT</c> (a .ttf/.otf path), DejaVu Sans (Debian <c>fonts-dejavu-core</c>, which
/// <c>run.sh</c>/<c>test.sh</c> install), Liberation Sans, Noto Sans, then any TrueType file under the
/// system font folders. Without any, pictures are still written, with Skia's empty default typeface
/// (no labels), and one warning on stderr says what to install.
/// </summary>
public static class Fonts
{
    static readonly string[] Candidates =
    [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
        "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
        "/usr/share/fonts/opentype/noto/NotoSans-Regular.ttf",
        "/Library/Fonts/Arial.ttf", "/System/Library/Fonts/Supplemental/Arial.ttf",
        "C:/Windows/Fonts/arial.ttf",
    ];

    static readonly Lazy<(string? Path, SKTypeface Typeface)> Loaded = new(Load);

    /// <summary>The font file in use, or null when none was found (labels are then missing).</summary>
    public static string? Path => Loaded.Value.Path;

    internal static SKTypeface Typeface => Loaded.Value.Typeface;

    /// <summary>The family name under which the font is registered with ScottPlot.</summary>
    internal const string PlotFamily = "Maskwork Sans";

    static (string?, SKTypeface) Load()
    {
        var env = Environment.GetEnvironmentVariable("MASKWORK_FONT");
        IEnumerable<string> paths = Candidates;
        if (!string.IsNullOrWhiteSpace(env)) paths = paths.Prepend(env);
        foreach (var path in paths.Concat(SystemFonts()))
        {
            if (!File.Exists(path)) continue;
            var typeface = SKTypeface.FromFile(path);
            if (typeface is null || typeface.GlyphCount == 0) continue;
            ScottPlot.Fonts.AddFontFile(PlotFamily, path);
            return (path, typeface);
        }
        Console.Error.WriteLine("maskwork: no TrueType font found; pictures are written without labels. " +
                                "Install one (apt-get install fonts-dejavu-core) or set MASKWORK_FONT=/path/to/font.ttf.");
        return (null, SKTypeface.Default);
    }

    static IEnumerable<string> SystemFonts()
    {
        foreach (var root in new[] { "/usr/share/fonts", "/usr/local/share/fonts" })
        {
            if (!Directory.Exists(root)) continue;
            foreach (var f in Directory.EnumerateFiles(root, "*.ttf", SearchOption.AllDirectories).Order(StringComparer.Ordinal)) yield return f;
        }
    }

    internal static SKFont Font(float size) => new(Typeface, size) { Edging = SKFontEdging.Antialias, Subpixel = true };
}
