using Maskwork.Abstractions;
using Parquet.Serialization;

namespace Maskwork.Backend.Data;

/// <summary>
/// Maskwork's dataset format (what <c>maskwork ingest</c> writes, what the <c>parquet</c> reader reads):
/// a folder of <c>part-NNNNN.parquet</c> files, one row per sample with its flat values, shape,
/// label, source and split. Any modality whose samples are dense arrays round-trips through it.
/// </summary>
public static class SampleParquet
{
    public sealed class Row
    {
        public float[] Values { get; set; } = [];
        public int[] Shape { get; set; } = [];
        public int? Label { get; set; }
        public string Source { get; set; } = "";
        public string? Split { get; set; }
    }

    public const int RowsPerPart = 10_000;

    public static async Task<int> WriteAsync(string folder, IAsyncEnumerable<Sample> samples, CancellationToken ct, IProgress<int>? progress = null)
    {
        Directory.CreateDirectory(folder);
        int part = 0, total = 0;
        var buffer = new List<Row>(RowsPerPart);
        async Task Flush()
        {
            if (buffer.Count == 0) return;
            string path = Path.Combine(folder, $"part-{part++:D5}.parquet");
            string tmp = path + ".tmp";
            await using (var fs = File.Create(tmp)) await ParquetSerializer.SerializeAsync(buffer, fs, cancellationToken: ct);
            File.Move(tmp, path, true);
            buffer.Clear();
        }
        await foreach (var s in samples.WithCancellation(ct))
        {
            buffer.Add(new Row { Values = s.Values, Shape = s.Shape, Label = s.Label, Source = s.Source, Split = s.Split });
            total++;
            if (buffer.Count == RowsPerPart) { await Flush(); progress?.Report(total); }
        }
        await Flush();
        progress?.Report(total);
        return total;
    }

    public static async IAsyncEnumerable<Sample> ReadAsync(DataSpec spec, IDataIssues issues, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        string folder = spec.Path;
        string[] files = File.Exists(folder) ? [folder]
            : Directory.Exists(folder) ? Directory.GetFiles(folder, "*.parquet").Order(StringComparer.Ordinal).ToArray()
            : throw new DirectoryNotFoundException($"parquet dataset '{folder}' not found: write one with `maskwork ingest --reader <name> --in <path> --out {folder}`");
        if (files.Length == 0) throw new FileNotFoundException($"no .parquet files in '{folder}': write them with `maskwork ingest`");
        foreach (var file in files)
        {
            IList<Row> rows;
            try
            {
                await using var fs = File.OpenRead(file);
                rows = (await ParquetSerializer.DeserializeAsync<Row>(fs, cancellationToken: ct)).Data;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                issues.Skip(file, $"not a readable Maskwork parquet file ({e.Message.Split('\n')[0]})");
                continue;
            }
            int i = 0;
            foreach (var r in rows)
            {
                i++;
                if (spec.Split is not null && r.Split is not null && r.Split != spec.Split) continue;
                long expected = r.Shape.Aggregate(1L, (a, b) => a * b);
                if (r.Shape.Length == 0 || expected != r.Values.Length)
                {
                    issues.Skip($"{file}#{i}", $"row has {r.Values.Length} values but shape [{string.Join(',', r.Shape)}]");
                    continue;
                }
                yield return new Sample(r.Values, r.Shape, r.Label, r.Source) { Split = r.Split };
            }
        }
    }
}
