using System.Globalization;
using System.Runtime.CompilerServices;
using Maskwork.Abstractions;

namespace Company.Signals.Readers;

/// <summary>
/// CSV series (see <see cref="SeriesWindows"/>): comma-separated, an optional header row, one row per
/// time step. A file with a malformed row is skipped whole and reported with its line number.
/// </summary>
public sealed class CsvSeriesReader(string name) : IDatasetReader
{
    /// <inheritdoc/>
    public string Name { get; } = name;

    /// <inheritdoc/>
    public string Description => "CSV time series (rows = time steps, columns = channels, optional 'label'), cut into windows";

    /// <inheritdoc/>
    public async IAsyncEnumerable<Sample> ReadAsync(DataSpec spec, IDataIssues issues, [EnumeratorCancellation] CancellationToken ct)
    {
        var (window, stride) = SeriesWindows.Options(spec);
        foreach (var file in SeriesWindows.Files(spec.Path, ".csv"))
        {
            ct.ThrowIfCancellationRequested();
            string[] lines = await File.ReadAllLinesAsync(file, ct);
            var (channels, labels, error) = Parse(lines);
            if (error is not null) { issues.Skip(file, error); continue; }
            if (channels[0].Length < window) { issues.Skip(file, $"{channels[0].Length} rows, fewer than one window of {window}"); continue; }
            foreach (var s in SeriesWindows.Cut(channels, labels, window, stride, file)) yield return s;
        }
    }

    /// <summary>Parses the lines of one file into channels [C][T] and labels [T] (or null), or says what is wrong.</summary>
    public static (float[][] Channels, int[]? Labels, string? Error) Parse(IReadOnlyList<string> lines)
    {
        var rows = lines.Select((l, i) => (Line: l, Number: i + 1)).Where(x => x.Line.Trim().Length > 0).ToList();
        if (rows.Count == 0) return ([], null, "empty file");
        string[] first = rows[0].Line.Split(',');
        bool header = first.Any(f => !float.TryParse(f, NumberStyles.Float, CultureInfo.InvariantCulture, out _));
        string[] names = header ? first.Select(f => f.Trim()).ToArray() : first.Select((_, i) => $"c{i}").ToArray();
        int[] channelColumns = Enumerable.Range(0, names.Length).Where(i => !SeriesWindows.IsTimeColumn(names[i]) && !SeriesWindows.IsLabelColumn(names[i])).ToArray();
        int labelColumn = Array.FindIndex(names, SeriesWindows.IsLabelColumn);
        if (channelColumns.Length == 0) return ([], null, "no numeric channel columns");
        var data = rows.Skip(header ? 1 : 0).ToList();
        var channels = channelColumns.Select(_ => new float[data.Count]).ToArray();
        int[]? labels = labelColumn >= 0 ? new int[data.Count] : null;
        for (int t = 0; t < data.Count; t++)
        {
            string[] fields = data[t].Line.Split(',');
            if (fields.Length != names.Length) return ([], null, $"line {data[t].Number}: {fields.Length} fields where the header has {names.Length}");
            for (int k = 0; k < channelColumns.Length; k++)
            {
                string f = fields[channelColumns[k]];
                if (!float.TryParse(f, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) || !float.IsFinite(v))
                    return ([], null, $"line {data[t].Number}: '{f.Trim()}' in column '{names[channelColumns[k]]}' is not a finite number");
                channels[k][t] = v;
            }
            if (labels is not null && !int.TryParse(fields[labelColumn], NumberStyles.Integer, CultureInfo.InvariantCulture, out labels[t]))
                return ([], null, $"line {data[t].Number}: label '{fields[labelColumn].Trim()}' is not an integer");
        }
        return (channels, labels, null);
    }
}
