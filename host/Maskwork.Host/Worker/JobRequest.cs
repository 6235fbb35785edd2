using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Maskwork.Abstractions;
using Maskwork.Host.Cli;
using Maskwork.Host.Commands;
using Maskwork.Host.Plugins;
using Maskwork.Host.Runs;

namespace Maskwork.Host.Worker;

/// <summary>A refused job request: HTTP 400 with <see cref="Exception.Message"/> as the reason.</summary>
public sealed class BadRequestException(string message) : Exception(message);

/// <summary>A validated <c>POST /jobs</c> body: the job file for <c>pretrain --config</c>, the stop point, a name, a priority and the ranks.</summary>
public sealed record JobRequest(JsonObject JobFile, string Recipe, int Steps, string Name, int Priority)
{
    /// <summary>Data-parallel ranks: above 1 the worker starts the job under <c>mpirun -np Ranks</c>.</summary>
    public int Ranks { get; init; } = 1;

    /// <summary>The keys of a job file (<see cref="JobConfig"/>) plus the worker's own.</summary>
    public static readonly string[] JobFileKeys = ["recipe", "data", "data_options", "seed", "device", "precision", "train", "model"];
    public static readonly string[] WorkerKeys = ["steps", "name", "priority", "ranks"];
    public const int MaxString = 4096, MaxSteps = 10_000_000;

    static readonly Regex NamePattern = new("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", RegexOptions.CultureInvariant);

    /// <summary>Parses and checks a body: known fields only, bounded strings, a known recipe and options, data inside the roots.</summary>
    public static JobRequest Validate(ReadOnlySpan<byte> body, PluginCatalog catalog, IReadOnlyList<string> dataRoots) => Validate(body, catalog, dataRoots, 1);

    /// <inheritdoc cref="Validate(ReadOnlySpan{byte}, PluginCatalog, IReadOnlyList{string})"/>
    public static JobRequest Validate(ReadOnlySpan<byte> body, PluginCatalog catalog, IReadOnlyList<string> dataRoots, int maxRanks)
    {
        JsonObject root;
        try { root = JsonNode.Parse(body, documentOptions: new JsonDocumentOptions { MaxDepth = 16 }) as JsonObject ?? throw new BadRequestException("the body must be a JSON object (a job file)"); }
        catch (JsonException e) { throw new BadRequestException($"the body is not valid JSON: {e.Message}"); }

        foreach (var (key, _) in root)
            if (!JobFileKeys.Contains(key) && !WorkerKeys.Contains(key))
                throw new BadRequestException($"unknown field '{key}'; a job has {string.Join(", ", JobFileKeys.Concat(WorkerKeys))}");
        CheckStrings(root, "");

        int steps = Int(root, "steps", 1, MaxSteps) ?? 0;
        int priority = Int(root, "priority", -1000, 1000) ?? 0;
        int ranks = Int(root, "ranks", 1, 256) ?? 1;
        if (ranks > maxRanks) throw new BadRequestException($"ranks {ranks}: this worker runs at most {maxRanks} rank{(maxRanks == 1 ? "" : "s")} per job (Maskwork:Worker:MaxRanks)");
        if (ranks > 1 && MpiLaunch.Find() is null)
            throw new BadRequestException($"ranks {ranks} needs OpenMPI's mpirun on the worker's machine: apt-get install openmpi-bin libopenmpi-dev");
        string? name = Str(root, "name");
        if (name is not null && !NamePattern.IsMatch(name)) throw new BadRequestException("name: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit");
        if (root["data_options"] is { } dataOptions && dataOptions is not JsonObject) throw new BadRequestException("data_options must be an object of reader options");
        foreach (var section in new[] { "train", "model" })
            if (root[section] is { } node && node is not JsonObject) throw new BadRequestException($"{section} must be an object of {section}.<name> options");

        var jobFile = new JsonObject();
        foreach (var key in JobFileKeys) if (root[key] is { } v) jobFile[key] = v.DeepClone();

        // The job as pretrain would resolve it: the recipe must exist, every option must be a known key of the right type.
        string recipeName = Str(root, "recipe") ?? "image/mae";
        if (catalog.Registry.Recipe(recipeName) is null)
            throw new BadRequestException($"unknown recipe '{recipeName}'; known: {string.Join(", ", catalog.Registry.Recipes.Select(r => r.Recipe.Name))}");
        string temp = Path.Combine(Path.GetTempPath(), $"maskwork-request-{Guid.NewGuid():N}.json");
        JobConfig job;
        try
        {
            File.WriteAllText(temp, jobFile.ToJsonString());
            job = JobConfig.Resolve(new PretrainArgs { Config = temp, Steps = steps > 0 ? steps : null }, catalog).Job;
        }
        catch (Exception e) when (e is UsageException or CommandException) { throw new BadRequestException(e.Message.Replace(temp, "the job")); }
        finally { File.Delete(temp); }
        if (job.Device is not ("cpu" or "cuda" or "auto")) throw new BadRequestException($"device must be cpu, cuda or auto, got '{job.Device}'");
        if (job.Precision is not ("fp32" or "bf16")) throw new BadRequestException($"precision must be fp32 or bf16, got '{job.Precision}'");
        CheckData(job.Data, catalog, dataRoots);
        if (steps == 0) steps = job.Train.Steps;
        return new JobRequest(jobFile, recipeName, steps, name ?? recipeName.Replace('/', '-'), priority) { Ranks = ranks };
    }

    /// <summary>A bare built-in name (a reader that needs no path), or <c>reader:path</c> whose real path lies inside a data root.</summary>
    public static void CheckData(string data, PluginCatalog catalog, IReadOnlyList<string> dataRoots)
    {
        DataSpec spec;
        try { spec = DataSpec.Parse(data); } catch (ArgumentException) { throw new BadRequestException("data is empty"); }
        if (catalog.Registry.Reader(spec.Reader) is null)
            throw new BadRequestException($"data '{data}': no reader named '{spec.Reader}'; known: {string.Join(", ", catalog.Registry.Readers.Select(r => r.Reader.Name))}");
        if (spec.Path.Length == 0) return;
        if (!Path.IsPathFullyQualified(spec.Path)) throw new BadRequestException($"data '{data}': the path must be absolute");
        string real = ChildProcess.RealPath(spec.Path) ?? throw new BadRequestException($"data '{data}': {spec.Path} does not exist");
        foreach (var root in dataRoots)
        {
            if (ChildProcess.RealPath(root) is not { } realRoot) continue;
            if (real == realRoot || real.StartsWith(realRoot.TrimEnd('/') + "/", StringComparison.Ordinal)) return;
        }
        throw new BadRequestException($"data '{data}': {spec.Path} (really {real}) is outside the worker's data roots ({string.Join(", ", dataRoots)}); set Maskwork:Worker:DataRoots");
    }

    static void CheckStrings(JsonNode? node, string where)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (k, v) in o)
                {
                    if (k.Length > 256) throw new BadRequestException($"a key under '{where}' is longer than 256 characters");
                    CheckStrings(v, where.Length == 0 ? k : $"{where}.{k}");
                }
                break;
            case JsonArray a:
                if (a.Count > 1024) throw new BadRequestException($"{where} has more than 1024 items");
                foreach (var v in a) CheckStrings(v, where);
                break;
            case JsonValue v when v.GetValueKind() == JsonValueKind.String && v.GetValue<string>().Length > MaxString:
                throw new BadRequestException($"{where} is longer than {MaxString} characters");
        }
    }

    static string? Str(JsonObject o, string key) => o[key] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        _ => throw new BadRequestException($"{key} must be a string"),
    };

    static int? Int(JsonObject o, string key, int min, int max)
    {
        if (o[key] is null) return null;
        if (o[key] is JsonValue v && v.TryGetValue<long>(out long n) && n >= min && n <= max) return (int)n;
        if (o[key] is JsonValue d && d.GetValueKind() == JsonValueKind.Number && d.TryGetValue<double>(out double x) && x == Math.Floor(x) && x >= min && x <= max) return (int)x;
        throw new BadRequestException($"{key} must be a whole number from {min} to {max}");
    }
}
