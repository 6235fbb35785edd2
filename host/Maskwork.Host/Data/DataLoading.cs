using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Host.Cli;
using Maskwork.Host.Plugins;

namespace Maskwork.Host.Data;

/// <summary>
/// Turns a data spec into a sample source: a Maskwork dataset folder (<c>parquet:DIR</c> with a
/// <c>dataset.json</c>) is streamed through <see cref="ParquetSource"/>; anything else is read by its
/// reader into memory, with progress and the skipped-file log, up to <c>data.max_in_memory_mb</c>.
/// </summary>
public static class DataLoading
{
    public sealed record Loaded(IReadOnlyList<Sample> Samples, DataIssueLog Issues, IDatasetReader Reader);

    /// <summary>An opened source, its issue log (shared with the source: rows it skips later count here) and the reader's name.</summary>
    public sealed record Opened(ISampleSource Source, DataIssueLog Issues, string Reader)
    {
        /// <summary>The source as a list, in index order (read lazily, a chunk at a time, for a streamed source).</summary>
        public IReadOnlyList<Sample> Samples => Source is SampleSet set ? set.Samples : new SourceList(Source);
    }

    public static IDatasetReader ReaderFor(DataSpec spec, ComponentRegistry registry) =>
        registry.Reader(spec.Reader) ?? throw new CommandException(
            $"no reader named '{spec.Reader}'. Known readers: {string.Join(", ", registry.Readers.Select(r => r.Reader.Name))}. " +
            "A data spec is <reader>:<path> or a built-in name such as fashion-mnist.");

    /// <summary>Default of <c>data.max_in_memory_mb</c>: a quarter of the memory this process may use.</summary>
    public static long DefaultMaxInMemoryMb => Math.Max(64, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 4 / (1 << 20));

    /// <summary>The source for <paramref name="spec"/>: streamed for a dataset folder, in memory otherwise.</summary>
    public static async Task<Opened> OpenAsync(DataSpec spec, ComponentRegistry registry, bool failFast, CancellationToken ct, int? limit = null, string label = "reading")
    {
        if (spec.Reader == "parquet" && ParquetDataset.IsDataset(spec.Path))
        {
            var issues = new DataIssueLog(failFast);
            try
            {
                var source = ParquetSource.Open(spec.Path, spec.Split, ParquetSourceOptions.From(spec.Options), issues);
                foreach (var (file, reason) in issues.Items) Console.Error.WriteLine($"skipped {file}: {reason}");
                return new Opened(source, issues, "parquet");
            }
            catch (InvalidDataFileException e) { throw new CommandException($"bad input {e.File}: {e.Reason}" + (failFast ? " (fail-fast is on)" : "")); }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or ArgumentException) { throw new CommandException(e.Message); }
        }
        var loaded = await LoadAsync(spec, registry, failFast, ct, limit, label);
        return new Opened(new SampleSet(loaded.Samples), loaded.Issues, loaded.Reader.Name);
    }

    public static async Task<Loaded> LoadAsync(DataSpec spec, ComponentRegistry registry, bool failFast, CancellationToken ct, int? limit = null, string label = "reading")
    {
        var reader = ReaderFor(spec, registry);
        var issues = new DataIssueLog(failFast);
        var samples = new List<Sample>();
        long budgetMb = MaxInMemoryMb(spec), bytes = 0;
        try
        {
            // The total is unknown until the reader is done (a count with a spinner), unless --limit bounds it.
            await Progress.RunAsync($"{label} {spec}", limit, "samples", async progress =>
            {
                await foreach (var s in reader.ReadAsync(spec, issues, ct))
                {
                    samples.Add(s);
                    bytes += s.RawBytes().Length;
                    if (bytes > budgetMb << 20)
                        throw new CommandException(
                            $"{spec} does not fit in data.max_in_memory_mb={budgetMb} (read {samples.Count} samples, {bytes >> 20} MB, and more follow). " +
                            $"Ingest it once and train from the dataset, which streams with bounded memory: " +
                            $"maskwork ingest --reader {spec.Reader} --in {(spec.Path.Length > 0 ? spec.Path : "<path>")} --out <dataset-dir>, then --data parquet:<dataset-dir>");
                    if (samples.Count % 1000 == 0) progress.Report(samples.Count);
                    if (limit is { } l && samples.Count >= l) break;
                }
                progress.Report(samples.Count);
                return samples.Count;
            });
        }
        catch (InvalidDataFileException e) { throw new CommandException($"bad input {e.File}: {e.Reason} (fail-fast is on)"); }
        catch (Exception e) when (e is DirectoryNotFoundException or FileNotFoundException or ArgumentException) { throw new CommandException(e.Message); }
        foreach (var (file, reason) in issues.Items) Console.Error.WriteLine($"skipped {file}: {reason}");
        return new Loaded(samples, issues, reader);
    }

    static long MaxInMemoryMb(DataSpec spec)
    {
        string raw = spec.Option("max_in_memory_mb", "");
        if (raw.Length == 0) return DefaultMaxInMemoryMb;
        return long.TryParse(raw, System.Globalization.CultureInfo.InvariantCulture, out var mb) && mb > 0
            ? mb : throw new UsageException($"data.max_in_memory_mb must be a positive number of megabytes, got '{raw}'");
    }
}

/// <summary>A sample source seen as a read-only list in index order (epoch 0), read a chunk at a time: probes, embed and pictures take lists.</summary>
public sealed class SourceList(ISampleSource source, int chunk = 256) : IReadOnlyList<Sample>
{
    readonly object gate = new();
    long chunkStart = -1;
    IReadOnlyList<Sample> current = [];

    public int Count => checked((int)source.Count);

    public Sample this[int index]
    {
        get
        {
            if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index));
            lock (gate)
            {
                long start = index / chunk * (long)chunk;
                if (start != chunkStart)
                {
                    long end = Math.Min(source.Count, start + chunk);
                    var indices = new long[end - start];
                    for (int i = 0; i < indices.Length; i++) indices[i] = start + i;
                    current = source.Read(indices, 0);
                    chunkStart = start;
                }
                // A chunk that lost rows to a bad row group is looked up by index.
                if (current.Count == chunk || current.Count == Math.Min(source.Count, chunkStart + chunk) - chunkStart)
                    return current[index - (int)chunkStart];
                return current.FirstOrDefault(s => s.Index == index) ?? throw new InvalidDataFileException($"sample {index}", "its row group could not be read (see the skipped inputs)");
            }
        }
    }

    public IEnumerator<Sample> GetEnumerator()
    {
        for (long start = 0; start < source.Count; start += chunk)
        {
            var indices = new long[Math.Min(chunk, source.Count - start)];
            for (int i = 0; i < indices.Length; i++) indices[i] = start + i;
            foreach (var s in source.Read(indices, 0)) yield return s;
        }
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
