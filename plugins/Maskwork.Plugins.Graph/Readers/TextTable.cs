namespace Maskwork.Plugins.Graph.Readers;

/// <summary>Line-oriented text tables: comma, tab or whitespace separated, <c>#</c>/<c>%</c> comments, 1-based line numbers.</summary>
static class TextTable
{
    static readonly char[] Whitespace = [' ', '\t'];

    /// <summary>Non-empty, non-comment lines with their 1-based numbers.</summary>
    public static async IAsyncEnumerable<(long Line, string[] Fields)> ReadAsync(string path, char? separator, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        long number = 0;
        await foreach (var raw in File.ReadLinesAsync(path, ct))
        {
            number++;
            var line = raw.TrimEnd('\r');
            var trimmed = line.TrimStart();
            if (trimmed.Length == 0 || trimmed[0] is '#' or '%') continue;
            yield return (number, Split(line, separator));
        }
    }

    /// <summary>Splits on <paramref name="separator"/>, or on commas when the line has one, else on runs of whitespace.</summary>
    public static string[] Split(string line, char? separator)
    {
        if (separator is { } s) return line.Split(s);
        if (line.Contains(',')) return line.Split(',');
        return line.Split(Whitespace, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    /// <summary>Whether a field parses as an integer (a first line that does not is a header).</summary>
    public static bool IsInteger(string field) => long.TryParse(field.Trim(), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out _);

    /// <summary>The first existing file among <paramref name="stems"/> × <paramref name="extensions"/> in <paramref name="folder"/>.</summary>
    public static string? Find(string folder, string[] stems, string[] extensions) =>
        stems.SelectMany(s => extensions.Select(e => Path.Combine(folder, s + e))).FirstOrDefault(File.Exists);
}
