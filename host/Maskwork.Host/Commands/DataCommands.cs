using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Host.Cli;
using Maskwork.Host.Data;

namespace Maskwork.Host.Commands;

/// <summary>What <c>inspect</c> is asked for. <paramref name="Sets"/>: <c>data.k=v</c> reader options.</summary>
public sealed record InspectArgs(string Data, int? Limit = null, IReadOnlyList<string>? Sets = null);

/// <summary>What <c>ingest</c> is asked for.</summary>
public sealed record IngestArgs(string Reader, string In, string Out, IReadOnlyList<string>? Sets = null);

/// <summary><c>inspect</c> and <c>ingest</c>: what a reader sees, and raw files → Parquet.</summary>
public sealed class DataCommands(Workspace workspace)
{
    public async Task<int> InspectAsync(InspectArgs args, Output output, CancellationToken ct)
    {
        var spec = DataSpec.Parse(args.Data) with { Options = Workspace.DataOptions(args.Sets) };
        var data = await DataLoading.LoadAsync(spec, workspace.Catalog.Registry, failFast: false, ct, limit: args.Limit);
        var shapes = data.Samples.GroupBy(s => string.Join('x', s.Shape)).OrderByDescending(g => g.Count())
            .ToDictionary(g => g.Key, g => g.Count());
        var labels = data.Samples.Where(s => s.Label is not null).Select(s => s.Label!.Value).Distinct().Count();
        var splits = data.Samples.GroupBy(s => s.Split ?? "none").ToDictionary(g => g.Key, g => g.Count());
        var errors = data.Issues.Items.Select(e => new { file = e.File, reason = e.Reason }).ToList();
        output.Result(new
        {
            reader = data.Reader.Name, path = spec.Path, samples = data.Samples.Count, skipped = data.Issues.Count, errors, shape = shapes,
            classes = labels, splits,
        }, () =>
            $"{data.Reader.Name} {spec.Path}: {data.Samples.Count} samples, {data.Issues.Count} skipped, {labels} classes\n" +
            $"  shapes: {string.Join(", ", shapes.Select(kv => $"{kv.Key} ×{kv.Value}"))}\n" +
            $"  splits: {string.Join(", ", splits.Select(kv => $"{kv.Key} {kv.Value}"))}" +
            string.Concat(errors.Select(e => $"\n  skipped {e.file}: {e.reason}")));
        return 0;
    }

    public async Task<int> IngestAsync(IngestArgs args, Output output, CancellationToken ct)
    {
        var spec = new DataSpec(args.Reader, args.In) { Options = Workspace.DataOptions(args.Sets) };
        var reader = DataLoading.ReaderFor(spec, workspace.Catalog.Registry);
        var issues = new DataIssueLog(workspace.Options.FailOnBadInput);
        string outFolder = args.Out;
        int count;
        try { count = await Progress.RunAsync($"ingest {spec}", null, "samples", p => SampleParquet.WriteAsync(outFolder, reader.ReadAsync(spec, issues, ct), ct, p.Counter())); }
        catch (Exception e) when (e is DirectoryNotFoundException or FileNotFoundException or ArgumentException) { throw new CommandException(e.Message); }
        foreach (var (file, reason) in issues.Items) Console.Error.WriteLine($"skipped {file}: {reason}");
        output.Result(new { reader = reader.Name, out_path = Path.GetFullPath(outFolder), samples = count, skipped = issues.Count },
            () => $"wrote {count} samples to {outFolder} ({issues.Count} skipped); read them with --data parquet:{outFolder}");
        return 0;
    }

}
