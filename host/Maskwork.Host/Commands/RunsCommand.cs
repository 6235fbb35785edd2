using System.Globalization;
using System.Text.Json.Nodes;
using Maskwork.Host.Cli;
using Maskwork.Host.Runs;
using Spectre.Console;

namespace Maskwork.Host.Commands;

/// <summary>What <c>runs</c> is asked for: the folder to list (default: the RunsRoot setting).</summary>
public sealed record RunsArgs(string? Root = null);

/// <summary><c>runs</c>: the runs under the runs root, to compare them.</summary>
public sealed class RunsCommand(Workspace workspace)
{
    public int List(RunsArgs args, Output output)
    {
        string root = Path.GetFullPath(args.Root ?? workspace.Options.RunsRoot);
        var runs = Directory.Exists(root)
            ? Directory.GetDirectories(root).Where(d => File.Exists(Path.Combine(d, "config.json"))).Select(Describe).OrderBy(r => r.Updated).ToList()
            : [];
        output.Result(new JsonArray(runs.Select(r => (JsonNode)r.Json).ToArray()));
        if (output.Json) return 0;
        if (runs.Count == 0)
        {
            output.Line($"no runs in {root} (a run folder holds config.json; start one with `maskwork pretrain`)");
            return 0;
        }
        var table = Output.Table("run", "recipe", "data", "state", "steps", "final loss", "samples/s", "evaluations");
        foreach (var r in runs)
        {
            var j = r.Json;
            string state = (string?)j["state"] ?? "unknown";
            table.AddRow(Output.Cell(Path.GetFileName((string?)j["run"])), Output.Cell((string?)j["recipe"]), Output.Cell((string?)j["data"]),
                Output.Cell(state, state switch { "finished" => "green", "running" => "blue", "failed" => "red", _ => "yellow" }),
                Output.Cell(Text(j["steps"])), Output.Cell(j["final_loss"] is JsonValue loss ? loss.GetValue<double>().ToString("F4", CultureInfo.InvariantCulture) : ""),
                Output.Cell(Text(j["samples_per_s"])), Output.Cell(Summary(j["evaluations"]!.AsArray())));
        }
        output.Show(table);
        output.Line($"{runs.Count} runs in {root}");
        return 0;
    }

    sealed record Entry(JsonObject Json, DateTime Updated);

    static Entry Describe(string folder)
    {
        var run = new RunFolder(folder);
        JobConfig? job = null;
        try { job = JobConfig.Load(run.Config); } catch (CommandException) { }
        var status = run.ReadStatus();
        var json = new JsonObject
        {
            ["run"] = run.Path, ["recipe"] = job?.Recipe ?? status?.Recipe, ["data"] = job?.Data ?? status?.Data,
            ["state"] = status?.State ?? "unknown", ["steps"] = status?.Steps, ["final_loss"] = status?.FinalLoss,
            ["samples_per_s"] = status?.SamplesPerS, ["updated"] = status?.Updated.ToString("O", CultureInfo.InvariantCulture),
            ["evaluations"] = new JsonArray(run.ReadEvaluations().ToArray<JsonNode?>()),
        };
        return new Entry(json, status?.Updated ?? Directory.GetLastWriteTimeUtc(folder));
    }

    static string Text(JsonNode? node) => node?.ToJsonString() ?? "";

    /// <summary>"linear 0.8279, linear (random init) 0.7385": the last result of each kind.</summary>
    static string Summary(JsonArray evaluations) => string.Join(", ", evaluations.OfType<JsonObject>()
        .GroupBy(e => $"{(string?)e["method"] ?? (string?)e["verb"]}{(e["random_init"] is JsonValue v && v.GetValue<bool>() ? " (random init)" : "")}{(e["from_scratch"] is JsonValue f && f.GetValue<bool>() ? " (scratch)" : "")}")
        .Select(g => $"{g.Key} {g.Last()["accuracy"]?.ToJsonString() ?? "?"}"));
}
