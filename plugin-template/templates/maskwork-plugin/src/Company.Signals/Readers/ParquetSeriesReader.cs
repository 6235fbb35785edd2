using System.Runtime.CompilerServices;
using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Parquet.Serialization;

namespace Company.Signals.Readers;

/// <summary>
/// Parquet series: a table with one row per time step and one numeric column per channel (see
/// <see cref="SeriesWindows"/>), cut into windows. A Maskwork dataset folder (what <c>maskwork ingest</c>
/// writes: dataset.json + part-NNNNN.parquet) is read as it is, through <see cref="ParquetDataset"/>; so is an older
/// single-file sample table (Values/Shape columns), through <see cref="SampleParquet"/>.
/// </summary>
public sealed class ParquetSeriesReader(string name) : IDatasetReader
{
    /// <inheritdoc/>
    public string Name { get; } = name;

    /// <inheritdoc/>
    public string Description => "Parquet time series (rows = time steps, columns = channels) or a Maskwork sample dataset";

    /// <inheritdoc/>
    public async IAsyncEnumerable<Sample> ReadAsync(DataSpec spec, IDataIssues issues, [EnumeratorCancellation] CancellationToken ct)
    {
        if (ParquetDataset.IsDataset(spec.Path))
        {
            await foreach (var s in ParquetDataset.ReadAllAsync(spec, issues, ct)) yield return s;
            yield break;
        }
        var (window, stride) = SeriesWindows.Options(spec);
        foreach (var file in SeriesWindows.Files(spec.Path, ".parquet"))
        {
            ct.ThrowIfCancellationRequested();
            DeserializationResult<Dictionary<string, object>> table;
            try
            {
                await using var fs = File.OpenRead(file);
                table = await ParquetSerializer.DeserializeUntypedAsync(fs, cancellationToken: ct);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                issues.Skip(file, $"not a readable Parquet file ({e.Message.Split('\n')[0]})");
                continue;
            }
            var fields = table.Schema.Fields.Select(f => f.Name).ToArray();
            if (fields.Contains("Values") && fields.Contains("Shape"))
            {
                await foreach (var s in SampleParquet.ReadAsync(spec with { Path = file }, issues, ct)) yield return s;
                continue;
            }
            var (channels, labels, error) = Columns(table, fields);
            if (error is not null) { issues.Skip(file, error); continue; }
            if (channels[0].Length < window) { issues.Skip(file, $"{channels[0].Length} rows, fewer than one window of {window}"); continue; }
            foreach (var s in SeriesWindows.Cut(channels, labels, window, stride, file)) yield return s;
        }
    }

    static (float[][] Channels, int[]? Labels, string? Error) Columns(DeserializationResult<Dictionary<string, object>> table, string[] fields)
    {
        var channelNames = fields.Where(f => !SeriesWindows.IsTimeColumn(f) && !SeriesWindows.IsLabelColumn(f)).ToArray();
        string? labelName = fields.FirstOrDefault(SeriesWindows.IsLabelColumn);
        if (channelNames.Length == 0) return ([], null, "no channel columns");
        int n = table.Data.Count;
        var channels = channelNames.Select(_ => new float[n]).ToArray();
        int[]? labels = labelName is null ? null : new int[n];
        for (int t = 0; t < n; t++)
        {
            var row = table.Data[t];
            for (int k = 0; k < channelNames.Length; k++)
            {
                object? v = row.GetValueOrDefault(channelNames[k]);
                float? f = v switch { float x => x, double x => (float)x, int x => x, long x => x, short x => x, decimal x => (float)x, _ => null };
                if (f is not { } value || !float.IsFinite(value)) return ([], null, $"row {t + 1}: column '{channelNames[k]}' holds {v ?? "null"}, not a finite number");
                channels[k][t] = value;
            }
            if (labels is not null)
            {
                object? l = row.GetValueOrDefault(labelName!);
                if (l is int i) labels[t] = i;
                else if (l is long j) labels[t] = (int)j;
                else return ([], null, $"row {t + 1}: label {l ?? "null"} is not an integer");
            }
        }
        return (channels, labels, null);
    }
}
