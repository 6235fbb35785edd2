using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Host.Cli;
using Maskwork.Host.Data;

namespace Maskwork.Host.Commands;

/// <summary>What <c>inspect</c> is asked for. <paramref name="Sets"/>: <c>data.k=v</c> reader options.</summary>
public sealed record InspectArgs(string Data, int? Limit = null, IReadOnlyList<string>? Sets = null)
{
    /// <summary>Check a dataset folder's manifest and every shard's checksum instead of reading samples.</summary>
    public bool Verify { get; init; }
}

/// <summary>What <c>ingest</c> is asked for; <c>data.k=v</c> options go to the reader and the dataset writer.</summary>
public sealed record IngestArgs(string Reader, string In, string Out, IReadOnlyList<string>? Sets = null);

/// <summary><c>inspect</c> and <c>ingest</c>: what a reader sees, and any reader → a sharded Parquet dataset folder.</summary>
public sealed class DataCommands(Workspace workspace)
{
    public async Task<int> InspectAsync(InspectArgs args, Output output, CancellationToken ct)
    {
        var spec = DataSpec.Parse(args.Data) with { Options = Workspace.DataOptions(args.Sets) };
        if (args.Verify) return Verify(spec, output);
        var data = await DataLoading.LoadAsync(spec, workspace.Catalog.Registry, failFast: false, ct, limit: args.Limit);
        var shapes = data.Samples.GroupBy(s => string.Join('x', s.Shape)).OrderByDescending(g => g.Count())
            .ToDictionary(g => g.Key, g => g.Count());
        var labels = data.Samples.Where(s => s.Label is not null).Select(s => s.Label!.Value).Distinct().Count();
        var splits = data.Samples.GroupBy(s => s.Split ?? "none").ToDictionary(g => g.Key, g => g.Count());
        var dtypes = data.Samples.GroupBy(s => SampleDTypes.Name(s.DType)).ToDictionary(g => g.Key, g => g.Count());
        var errors = data.Issues.Items.Select(e => new { file = e.File, reason = e.Reason }).ToList();
        // A reader that describes its files (volumes: spacing, orientation; videos: frames, rate) adds them; the
        // files it cannot use were already counted by the read above.
        var files = (data.Reader as IDescribesFiles)?.DescribeFiles(spec, new DataIssueLog(failFast: false)).Take(args.Limit ?? int.MaxValue)
            .Select(f => new Dictionary<string, object>([new("file", f.File), .. f.Facts])).ToList();
        output.Result(new
        {
            reader = data.Reader.Name, path = spec.Path, samples = data.Samples.Count, skipped = data.Issues.Count, errors, shape = shapes,
            classes = labels, splits, dtypes, files,
        }, () =>
            $"{data.Reader.Name} {spec.Path}: {data.Samples.Count} samples, {data.Issues.Count} skipped, {labels} classes\n" +
            $"  shapes: {string.Join(", ", shapes.Select(kv => $"{kv.Key} ×{kv.Value}"))}\n" +
            $"  dtypes: {string.Join(", ", dtypes.Select(kv => $"{kv.Key} ×{kv.Value}"))}\n" +
            $"  splits: {string.Join(", ", splits.Select(kv => $"{kv.Key} {kv.Value}"))}" +
            string.Concat((files ?? []).Select(f => "\n  " + string.Join(", ", f.Select(kv => kv.Key == "file" ? $"{kv.Value}:" : $"{kv.Key} {Show(kv.Value)}")).Replace(":,", ":"))) +
            string.Concat(errors.Select(e => $"\n  skipped {e.file}: {e.reason}")));
        return 0;
    }

    static string Show(object value) => value switch
    {
        double[] a => string.Join('×', a.Select(x => x.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture))),
        double d => d.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture),
        _ => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "",
    };

    /// <summary><c>inspect --verify</c>: the manifest and every shard's checksum; exit 1 when anything fails.</summary>
    static int Verify(DataSpec spec, Output output)
    {
        if (spec.Reader != "parquet") throw new UsageException($"--verify checks a dataset folder: use --data parquet:DIR, not {spec}");
        var check = ParquetDataset.Verify(spec.Path);
        var m = check.Manifest;
        var bad = check.Shards.Where(s => !s.Ok).Select(s => new { file = Path.Combine(spec.Path, s.File), problem = s.Problem }).ToList();
        output.Result(new
        {
            reader = "parquet", path = spec.Path, ok = check.Ok, format_version = m?.FormatVersion, source_reader = m?.Reader, input = m?.Input,
            options = m?.Options, samples = m?.Rows, splits = m?.Splits, summary = m?.Summary, shards = check.Shards.Count,
            shards_ok = check.Shards.Count(s => s.Ok), bytes = m?.Shards.Sum(s => s.Bytes), bad_shards = bad, problems = check.Problems,
            skipped = m?.Skipped.Count ?? 0, skipped_inputs = m?.Skipped,
        }, () =>
            $"{spec.Path}: {(check.Ok ? "OK" : "FAILED")}" +
            (m is null ? "" : $", {m.Rows} samples ({string.Join(", ", m.Splits.Select(kv => $"{kv.Key} {kv.Value}"))}) from {m.Reader} {m.Input}, " +
                $"{check.Shards.Count(s => s.Ok)}/{check.Shards.Count} shards verified, {m.Shards.Sum(s => s.Bytes) / 1e6:F1} MB, " +
                $"{string.Join(", ", m.Summary.Select(s => $"[{string.Join(',', s.Shape)}] {s.DType}{(s.Normalized ? " (normalized)" : "")} ×{s.Rows}"))}, {m.Skipped.Count} inputs skipped at ingest") +
            string.Concat(bad.Select(b => $"\n  bad shard {b.file}: {b.problem}")) + string.Concat(check.Problems.Select(p => $"\n  {p}")));
        if (!check.Ok) Console.Error.WriteLine($"{spec.Path} failed verification: " + string.Join("; ", bad.Select(b => $"{b.file}: {b.problem}").Concat(check.Problems)));
        return check.Ok ? 0 : 1;
    }

    static readonly string[] WriterKeys = ["shard_mb", "group_rows", "group_mb", "store"];

    public async Task<int> IngestAsync(IngestArgs args, Output output, CancellationToken ct)
    {
        var options = Workspace.DataOptions(args.Sets);
        var request = (args.Reader, Input: args.In, args.Out, Options: options);
        var spec = new DataSpec(request.Reader, request.Input) { Options = request.Options };
        var reader = DataLoading.ReaderFor(spec, workspace.Catalog.Registry);
        var issues = new DataIssueLog(workspace.Options.FailOnBadInput);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        DatasetManifest manifest;
        try
        {
            manifest = await Progress.RunAsync($"ingest {spec} → {request.Out}", null, "samples", async progress =>
            {
                await using var writer = new DatasetWriter(request.Out, DatasetWriterOptions.From(request.Options));
                await foreach (var s in reader.ReadAsync(spec, issues, ct).WithCancellation(ct))
                {
                    await writer.AddAsync(s, ct);
                    if (writer.Rows % 1000 == 0) progress.Report(writer.Rows);
                }
                progress.Report(writer.Rows);
                if (reader is IDatasetCompanions companions) // files kept with the dataset (vl: the caption vocabulary)
                    foreach (var (name, contents) in companions.CompanionFiles(spec)) writer.AddFile(name, contents);
                var readerOptions = request.Options.Where(kv => !WriterKeys.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value);
                return await writer.CompleteAsync(reader.Name, request.Input, readerOptions, issues.Items, ct);
            });
        }
        catch (InvalidDataFileException e) { throw new CommandException($"bad input {e.File}: {e.Reason} (fail-fast is on); no dataset was written"); }
        catch (Exception e) when (e is DirectoryNotFoundException or FileNotFoundException or ArgumentException) { throw new CommandException(e.Message); }
        foreach (var (file, reason) in issues.Items) Console.Error.WriteLine($"skipped {file}: {reason}");
        long bytes = manifest.Shards.Sum(s => s.Bytes);
        output.Result(new
        {
            reader = reader.Name, out_path = Path.GetFullPath(request.Out), samples = manifest.Rows, skipped = issues.Count, shards = manifest.Shards.Count,
            bytes, splits = manifest.Splits, files = manifest.Files.Select(f => f.File).ToList(), seconds = Math.Round(clock.Elapsed.TotalSeconds, 1),
        }, () => $"wrote {manifest.Rows} samples ({string.Join(", ", manifest.Splits.Select(kv => $"{kv.Key} {kv.Value}"))}) in {manifest.Shards.Count} shards, " +
                 $"{bytes / 1e6:F1} MB, to {request.Out} ({issues.Count} inputs skipped); train from it with --data parquet:{request.Out}");
        return 0;
    }
}
