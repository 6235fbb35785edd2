using System.Text.Json;
using System.Text.Json.Nodes;
using Maskwork.Host.Cli;

namespace Maskwork.Host.Runs;

/// <summary>The run folder of DESIGN.md section 6.</summary>
public sealed class RunFolder
{
    public RunFolder(string path) => Path = System.IO.Path.GetFullPath(path);

    public string Path { get; }
    public string Config => System.IO.Path.Combine(Path, "config.json");
    public string Checkpoints => System.IO.Path.Combine(Path, "checkpoints");
    public string LastCheckpoint => System.IO.Path.Combine(Checkpoints, "last.ckpt");
    public string StepCheckpoint(long step) => System.IO.Path.Combine(Checkpoints, $"step-{step}.ckpt");
    public string Metrics => System.IO.Path.Combine(Path, "metrics.parquet");
    public string LossPlot => System.IO.Path.Combine(Path, "loss.png");
    public string Reconstructions => System.IO.Path.Combine(Path, "reconstructions.png");
    public string Log => System.IO.Path.Combine(Path, "log.txt");
    /// <summary>How the run stands (<see cref="RunStatus"/>): written at the start, at each checkpoint and at the end.</summary>
    public string Status => System.IO.Path.Combine(Path, "status.json");
    /// <summary>One JSON line per logged step, for tools that follow a live run.</summary>
    public string ProgressLog => System.IO.Path.Combine(Path, "progress.jsonl");
    /// <summary>One JSON line per evaluation (probe, fine-tuning): the verb's --json result.</summary>
    public string Evaluations => System.IO.Path.Combine(Path, "evaluations.jsonl");

    public static RunFolder Create(string? requested, string runsRoot, string recipe)
    {
        string path = requested ?? System.IO.Path.Combine(runsRoot, $"{recipe.Replace('/', '-')}-{DateTime.UtcNow:yyyyMMdd-HHmmss}");
        var folder = new RunFolder(path);
        if (File.Exists(folder.Config))
            throw new CommandException($"{folder.Path} already holds a run; continue it with `maskwork resume --run {folder.Path}` or choose another --out");
        Directory.CreateDirectory(folder.Checkpoints);
        return folder;
    }

    public static RunFolder Open(string path)
    {
        var folder = new RunFolder(path);
        if (!Directory.Exists(folder.Path)) throw new CommandException($"run folder {folder.Path} does not exist");
        if (!File.Exists(folder.Config)) throw new CommandException($"{folder.Path} has no config.json: not a run folder");
        return folder;
    }

    /// <summary>The newest loadable checkpoint: last.ckpt, else the highest step-N.ckpt.</summary>
    public string? NewestCheckpoint()
    {
        if (File.Exists(LastCheckpoint)) return LastCheckpoint;
        if (!Directory.Exists(Checkpoints)) return null;
        return Directory.GetFiles(Checkpoints, "step-*.ckpt")
            .OrderByDescending(f => long.TryParse(System.IO.Path.GetFileNameWithoutExtension(f)[5..], out var s) ? s : -1)
            .FirstOrDefault();
    }

    static readonly JsonSerializerOptions Snake = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>Replaces status.json atomically.</summary>
    public void WriteStatus(RunStatus status)
    {
        string tmp = Status + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(status, Snake));
        File.Move(tmp, Status, true);
    }

    /// <summary>status.json, or null when the run has none (written before it existed) or it is unreadable.</summary>
    public RunStatus? ReadStatus()
    {
        try { return File.Exists(Status) ? JsonSerializer.Deserialize<RunStatus>(File.ReadAllText(Status), Snake) : null; }
        catch (Exception e) when (e is JsonException or IOException) { return null; }
    }

    /// <summary>Appends one object as a JSON line to progress.jsonl.</summary>
    public void AppendProgress(object line) => AppendJsonLine(ProgressLog, line);

    /// <summary>Appends an evaluation's result to evaluations.jsonl.</summary>
    public void AppendEvaluation(object result) => AppendJsonLine(Evaluations, result);

    /// <summary>The evaluations so far, skipping lines that do not parse (a line cut short by a crash).</summary>
    public List<JsonObject> ReadEvaluations()
    {
        var list = new List<JsonObject>();
        if (!File.Exists(Evaluations)) return list;
        foreach (var line in File.ReadLines(Evaluations))
        {
            try { if (JsonNode.Parse(line) is JsonObject o) list.Add(o); }
            catch (JsonException) { }
        }
        return list;
    }

    static void AppendJsonLine(string path, object value)
    {
        string json = value is JsonNode node ? node.ToJsonString() : JsonSerializer.Serialize(value, value.GetType(), Snake);
        try { File.AppendAllText(path, json + "\n"); }
        catch (IOException) { }
    }

    public void AppendLog(string line)
    {
        try { File.AppendAllText(Log, $"{DateTime.UtcNow:O} {line}{Environment.NewLine}"); }
        catch (IOException) { }
    }
}

/// <summary>status.json: how a run stands. <see cref="State"/> is running, finished, interrupted or failed.</summary>
public sealed record RunStatus
{
    public string State { get; init; } = "running";
    public string? Recipe { get; init; }
    public string? Data { get; init; }
    public long Steps { get; init; }
    /// <summary>The step the run trains to.</summary>
    public long TargetSteps { get; init; }
    public double? FinalLoss { get; init; }
    public double SamplesPerS { get; init; }
    public string? Reason { get; init; }
    public DateTime Updated { get; init; } = DateTime.UtcNow;
}
