using System.Globalization;
using Maskwork.Abstractions;

namespace Company.Signals.Readers;

/// <summary>
/// A series is a table: one row per time step, one numeric column per channel, an optional integer
/// <c>label</c> column, and time columns (<c>time</c>, <c>timestamp</c>, <c>date</c>) that are ignored.
/// It is cut into windows of <c>window</c> steps every <c>stride</c> steps (reader options, set by the
/// recipe or with <c>--set data.window=256</c>); each window is one <see cref="Sample"/> of shape [C, window].
/// </summary>
public static class SeriesWindows
{
    static readonly string[] TimeColumns = ["time", "timestamp", "date", "datetime"];

    /// <summary>Whether a column is a time stamp rather than a channel.</summary>
    public static bool IsTimeColumn(string name) => TimeColumns.Contains(name.Trim(), StringComparer.OrdinalIgnoreCase);

    /// <summary>Whether a column holds the labels.</summary>
    public static bool IsLabelColumn(string name) => string.Equals(name.Trim(), "label", StringComparison.OrdinalIgnoreCase);

    /// <summary>Reads <c>window</c> and <c>stride</c> (default: the window) from the spec.</summary>
    public static (int Window, int Stride) Options(DataSpec spec)
    {
        int window = Positive(spec, "window", "128");
        int stride = Positive(spec, "stride", window.ToString(CultureInfo.InvariantCulture));
        return (window, stride);
    }

    static int Positive(DataSpec spec, string key, string fallback)
    {
        string raw = spec.Option(key, fallback);
        if (!int.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) || v <= 0)
            throw new ArgumentException($"reader option {key}={raw} must be a positive integer");
        return v;
    }

    /// <summary>Cuts channels [C][T] into windows [C, window]; the label of a window is the label of its first step.</summary>
    public static IEnumerable<Sample> Cut(float[][] channels, int[]? labels, int window, int stride, string source)
    {
        if (channels.Length == 0) yield break;
        int c = channels.Length, t = channels[0].Length;
        for (int start = 0; start + window <= t; start += stride)
        {
            var values = new float[c * window];
            for (int ch = 0; ch < c; ch++) Array.Copy(channels[ch], start, values, ch * window, window);
            yield return new Sample(values, [c, window], labels?[start], $"{source}#{start}");
        }
    }

    /// <summary>Every file of <paramref name="path"/> with <paramref name="extension"/> (a file, or a folder searched recursively), in a stable order.</summary>
    public static string[] Files(string path, string extension)
    {
        if (File.Exists(path)) return [path];
        if (Directory.Exists(path))
        {
            var files = Directory.GetFiles(path, "*" + extension, SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
            return files.Length > 0 ? files : throw new FileNotFoundException($"no {extension} files in '{path}'");
        }
        throw new FileNotFoundException($"'{path}' is neither a {extension} file nor a folder; give <reader>:<path>");
    }
}
