using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Host.Cli;
using Maskwork.Host.Plugins;

namespace Maskwork.Host.Data;

/// <summary>Reads a whole data spec into memory through its reader, with progress and the skipped-file log.</summary>
public static class DataLoading
{
    public sealed record Loaded(IReadOnlyList<Sample> Samples, DataIssueLog Issues, IDatasetReader Reader);

    public static IDatasetReader ReaderFor(DataSpec spec, ComponentRegistry registry) =>
        registry.Reader(spec.Reader) ?? throw new CommandException(
            $"no reader named '{spec.Reader}'. Known readers: {string.Join(", ", registry.Readers.Select(r => r.Reader.Name))}. " +
            "A data spec is <reader>:<path> or a built-in name such as fashion-mnist.");

    public static async Task<Loaded> LoadAsync(DataSpec spec, ComponentRegistry registry, bool failFast, CancellationToken ct, int? limit = null, string label = "reading")
    {
        var reader = ReaderFor(spec, registry);
        var issues = new DataIssueLog(failFast);
        var samples = new List<Sample>();
        try
        {
            // The total is unknown until the reader is done (a count with a spinner), unless --limit bounds it.
            await Progress.RunAsync($"{label} {spec}", limit, "samples", async progress =>
            {
                await foreach (var s in reader.ReadAsync(spec, issues, ct))
                {
                    samples.Add(s);
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
}
