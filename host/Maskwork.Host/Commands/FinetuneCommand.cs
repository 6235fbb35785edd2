using System.ComponentModel;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Training;
using Maskwork.Backend.Visuals;
using Maskwork.Host.Cli;
using Maskwork.Host.Data;
using Maskwork.Host.Runs;
using Parquet.Serialization;
using static TorchSharp.torch;

namespace Maskwork.Host.Commands;

/// <summary>What <c>maskwork finetune</c> was asked, independent of how the command line was parsed.</summary>
public sealed record FinetuneRequest
{
    /// <summary>The pretraining run whose encoder is fine-tuned (not with <see cref="Resume"/>).</summary>
    public string? Run { get; init; }
    /// <summary>Labelled data; default the run's data (all its splits).</summary>
    public string? Data { get; init; }
    /// <summary>Overrides <c>finetune.epochs</c>.</summary>
    public int? Epochs { get; init; }
    /// <summary>The same architecture from random initialisation, same budget.</summary>
    public bool FromScratch { get; init; }
    /// <summary>Folder name under the run: <c>finetune-&lt;name&gt;</c>; default scratch|pretrained plus a timestamp.</summary>
    public string? Name { get; init; }
    /// <summary>A fine-tune folder to continue from its last checkpoint.</summary>
    public string? Resume { get; init; }
    /// <summary><c>finetune.&lt;name&gt;=v</c>, <c>data.&lt;name&gt;=v</c>, <c>seed=N</c>.</summary>
    public IReadOnlyList<string> Set { get; init; } = [];
}

/// <summary>config.json of a fine-tune folder: everything needed to rebuild and resume it.</summary>
public sealed record FineTuneConfig
{
    public string Parent { get; init; } = "";
    public string Recipe { get; init; } = "";
    public bool FromScratch { get; init; }
    public string Data { get; init; } = "";
    public Dictionary<string, string> DataOptions { get; init; } = [];
    public long Seed { get; init; }
    /// <summary>The parent's checkpoint the encoder started from (null from scratch).</summary>
    public string? StartCheckpoint { get; init; }
    public FineTuneOptions Finetune { get; init; } = new();
}

/// <summary>One row of a fine-tune's metrics.parquet: a logged step, or an epoch end (with the accuracies).</summary>
public sealed class FineTuneMetricRow
{
    public long Step { get; set; }
    public int Epoch { get; set; }
    public double Loss { get; set; }
    public double Lr { get; set; }
    public double SamplesPerS { get; set; }
    public double? ValAccuracy { get; set; }
    public double? TestAccuracy { get; set; }
    public double ElapsedS { get; set; }
}

/// <summary>
/// <c>maskwork finetune</c>: supervised fine-tuning of a pretraining run's encoder (or the same architecture from
/// scratch) into <c>&lt;run&gt;/finetune-&lt;name&gt;/</c>; the training itself is <see cref="FineTuner"/>.
/// </summary>
public sealed class FinetuneCommand(Workspace workspace)
{
    public const string Usage = "finetune --run DIR [--data SPEC] [--epochs N] [--from-scratch] [--name NAME] [--set finetune.k=v]... [--json] | finetune --resume FTDIR [--json]";

    /// <summary>Every <c>finetune.*</c> key with its default and description (for help and error messages).</summary>
    public static IEnumerable<string> OptionLines(FineTuneOptions defaults)
    {
        var json = OptionsJson.ToJson(defaults);
        foreach (var p in typeof(FineTuneOptions).GetProperties())
        {
            string key = JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name);
            yield return $"finetune.{key} = {json[key]?.ToJsonString() ?? "null"}: {p.GetCustomAttribute<DescriptionAttribute>()?.Description}";
        }
    }

    public async Task<int> RunAsync(FinetuneRequest request, Output output, CancellationToken ct)
    {
        FineTuneConfig config;
        RunFolder parent;
        string folder;
        bool resume = request.Resume is not null;
        if (resume)
        {
            if (request.Run is not null || request.Data is not null || request.Epochs is not null || request.FromScratch || request.Name is not null || request.Set.Count > 0)
                throw new UsageException("--resume continues a fine-tune exactly as it was configured; give it alone (with --json)");
            folder = Path.GetFullPath(request.Resume!);
            string path = Path.Combine(folder, "config.json");
            if (!File.Exists(path)) throw new CommandException($"{folder} has no config.json: not a fine-tune folder written by `maskwork finetune`");
            try { config = JsonSerializer.Deserialize<FineTuneConfig>(File.ReadAllText(path), JobConfig.Json) ?? throw new CommandException($"{path} is empty"); }
            catch (JsonException e) { throw new CommandException($"{path} is not a valid fine-tune config: {e.Message}"); }
            parent = RunFolder.Open(config.Parent);
        }
        else
        {
            parent = RunFolder.Open(request.Run ?? throw new UsageException("finetune needs --run DIR (or --resume FTDIR)"));
            config = null!;
            folder = "";
        }

        var job = JobConfig.Load(parent.Config);
        // From scratch (and on resume, where the fine-tune checkpoint replaces every weight) the parent's checkpoint is not read.
        var (_, recipe, pretrained, device, precision) = workspace.OpenModel(parent, randomInit: resume || request.FromScratch);
        var parts = pretrained.Parts;
        if (!resume)
        {
            config = Configure(request, job, parts.ProbeLevel, parent);
            folder = Path.Combine(parent.Path, "finetune-" + (request.Name ?? $"{(request.FromScratch ? "scratch" : "pretrained")}-{DateTime.UtcNow:yyyyMMdd-HHmmss}"));
            if (File.Exists(Path.Combine(folder, "config.json")))
                throw new CommandException($"{folder} already holds a fine-tune; continue it with `maskwork finetune --resume {folder}` or choose another --name");
            Directory.CreateDirectory(Path.Combine(folder, "checkpoints"));
            File.WriteAllText(Path.Combine(folder, "config.json"), JsonSerializer.Serialize(config, JobConfig.Json));
        }
        var log = new RunFolder(folder);
        log.AppendLog(resume ? "resume" : $"finetune {(config.FromScratch ? "from scratch" : "from " + config.StartCheckpoint)} recipe={config.Recipe} data={config.Data} seed={config.Seed}");

        var spec = DataSpec.Parse(config.Data) with { Options = config.DataOptions };
        var loaded = await DataLoading.LoadAsync(spec, workspace.Catalog.Registry, workspace.Options.FailOnBadInput, ct);
        if (loaded.Samples.Count == 0) throw new CommandException($"{spec} produced no usable samples ({loaded.Issues.Count} skipped)");
        foreach (var (file, reason) in loaded.Issues.Items) log.AppendLog($"skipped {file}: {reason}");
        var o = config.Finetune;
        var data = parts.ProbeLevel == ProbeLevel.Token
            ? new FineTuneData(loaded.Samples, [], [])
            : FineTuneData.Split(loaded.Samples, o.ValFraction, o.TrainLimit, o.EvalLimit, config.Seed);
        if (parts.ProbeLevel == ProbeLevel.Sample && (data.Train.Count == 0 || data.Test.Count == 0))
            throw new CommandException($"{spec} has no labelled {(data.Train.Count == 0 ? "train" : "test")} samples; fine-tuning needs labels (sub-folder names for image-folder)");
        // Images ([C,H,W]) get MAE's crop and flip; other recipes augment in their tokenizer while the encoder trains (points).
        ISampleAugment? augment = o.Augment && data.Train.Count > 0 && data.Train[0].Shape.Length == 3
            ? new ImageAugment(SeedMix.Of(config.Seed, 0xa06, 1), o.CropMinScale, o.FlipProbability, maxAspect: o.CropMinScale < 1 ? 4.0 / 3 : 1) : null;

        FineTuner made;
        try { made = new FineTuner(new FineTuneSetup(recipe.Name, parts, o, 0, config.Seed, device, precision) { Augment = augment }, data); }
        catch (ArgumentException e) { throw new CommandException(e.Message); }
        using var tuner = made;
        string last = Path.Combine(folder, "checkpoints", "last.ckpt"), best = Path.Combine(folder, "checkpoints", "best.ckpt");
        string metricsPath = Path.Combine(folder, "metrics.parquet");
        var rows = new List<FineTuneMetricRow>();
        if (resume)
        {
            try { tuner.Load(last); }
            catch (CheckpointException e) { throw new CommandException(e.Message); }
            if (File.Exists(metricsPath))
            {
                await using var fs = File.OpenRead(metricsPath);
                rows.AddRange((await ParquetSerializer.DeserializeAsync<FineTuneMetricRow>(fs, cancellationToken: ct)).Data.Where(r => r.Step <= tuner.Step));
            }
        }
        long startStep = tuner.Step;
        log.AppendLog($"{tuner.TrainCount} train, {tuner.ValCount} val{(data.HeldOut ? " (held out of train)" : "")}, {tuner.TestCount} test; {tuner.TotalSteps} steps ({tuner.StepsPerEpoch} per epoch) from step {tuner.Step}");

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; cts.Cancel(); });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; cts.Cancel(); });
        double elapsedBefore = rows.Count > 0 ? rows[^1].ElapsedS : 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        void Save(FineTuner t)
        {
            t.Save(last);
            SaveRows(rows, metricsPath);
        }
        Progress.Run($"finetune {recipe.Name}{(config.FromScratch ? " from scratch" : "")}", tuner.TotalSteps, "steps", progress => tuner.Run(tuner.TotalSteps, cts.Token, s =>
        {
            if (s.Step % o.LogEvery == 0 || s.Step == tuner.TotalSteps)
                rows.Add(new FineTuneMetricRow { Step = s.Step, Epoch = s.Epoch, Loss = s.Loss, Lr = s.Lr, SamplesPerS = s.SamplesPerSecond, ElapsedS = elapsedBefore + clock.Elapsed.TotalSeconds });
            progress.Report(s.Step, $"epoch {s.Epoch + 1}/{o.Epochs} · loss {s.Loss:F4} · {s.SamplesPerSecond:F0} samples/s");
        }, e =>
        {
            rows.Add(new FineTuneMetricRow { Step = e.Step, Epoch = e.Epoch, Loss = e.TrainLoss, ValAccuracy = Nullable(e.ValAccuracy), TestAccuracy = e.TestAccuracy, ElapsedS = elapsedBefore + clock.Elapsed.TotalSeconds });
            string line = $"epoch {e.Epoch + 1}/{o.Epochs}: train loss {e.TrainLoss:F4}, val accuracy {e.ValAccuracy:F4}, test accuracy {e.TestAccuracy:F4}";
            Console.Error.WriteLine(line);
            log.AppendLog(line);
            if (ReferenceEquals(tuner.Best, e)) tuner.Save(best);
        }, Save));
        Save(tuner);
        Plots(rows, folder, $"{recipe.Name} fine-tune{(config.FromScratch ? " from scratch" : "")}");

        bool interrupted = tuner.Step < tuner.TotalSteps;
        if (interrupted)
        {
            Console.Error.WriteLine($"interrupted at step {tuner.Step}; checkpoint written. Continue with: maskwork finetune --resume {folder}");
            log.AppendLog($"interrupted at step {tuner.Step}");
        }
        var bestEpoch = tuner.Best;
        var lastEpoch = tuner.History.LastOrDefault();
        var result = new JsonObject
        {
            ["run"] = folder, ["parent"] = parent.Path, ["recipe"] = recipe.Name,
            ["accuracy"] = Round(bestEpoch?.TestAccuracy), ["last_accuracy"] = Round(lastEpoch?.TestAccuracy),
            ["best_epoch"] = bestEpoch is null ? null : bestEpoch.Epoch + 1, ["val_accuracy"] = Round(bestEpoch?.ValAccuracy),
            ["epochs"] = tuner.History.Count, ["from_scratch"] = config.FromScratch,
            ["train_count"] = tuner.TrainCount, ["val_count"] = tuner.ValCount, ["test_count"] = tuner.TestCount,
            ["level"] = parts.ProbeLevel == ProbeLevel.Token ? "token" : "sample", ["steps"] = tuner.Step,
            ["elapsed_s"] = Math.Round(elapsedBefore + clock.Elapsed.TotalSeconds, 1), ["interrupted"] = interrupted,
        };
        string summary = bestEpoch is null ? "no epoch finished" :
            $"fine-tuned{(config.FromScratch ? " from scratch" : "")}: test accuracy {bestEpoch.TestAccuracy:F4} at the best val epoch {bestEpoch.Epoch + 1} (val {bestEpoch.ValAccuracy:F4}), {lastEpoch!.TestAccuracy:F4} at the last ({lastEpoch.Epoch + 1})";
        log.AppendLog(summary);
        if (!interrupted && bestEpoch is not null && tuner.Step > startStep) // a resume of a finished fine-tune adds no second line
        {
            parent.AppendLog($"finetune {Path.GetFileName(folder)}: {summary}");
            AppendEvaluation(parent, "finetune", result);
        }
        output.Result(result, () => $"{summary}\n{tuner.TrainCount} train / {tuner.ValCount} val{(data.HeldOut ? " (held out)" : "")} / {tuner.TestCount} test; folder {folder}");
        return interrupted ? TrainCommand.Interrupted : 0;
    }

    static double? Nullable(double v) => double.IsFinite(v) ? v : null;
    static double? Round(double? v) => v is { } x && double.IsFinite(x) ? Math.Round(x, 4) : null;

    /// <summary>The fine-tune's settings: the level's defaults, then --epochs and --set; data and seed from the parent unless overridden.</summary>
    static FineTuneConfig Configure(FinetuneRequest request, JobConfig job, ProbeLevel level, RunFolder parent)
    {
        var defaults = level == ProbeLevel.Token ? FineTuneOptions.ForTokens() : new FineTuneOptions();
        // Layer-wise decay protects pretrained lower layers; random ones it would only slow down (MAE's scratch baselines run without).
        if (request.FromScratch) defaults = defaults with { LayerDecay = 1 };
        var options = OptionsJson.ToJson(defaults);
        var dataOptions = new Dictionary<string, string>(job.DataOptions);
        long seed = job.Seed;
        foreach (var assignment in request.Set)
        {
            int eq = assignment.IndexOf('=');
            if (eq <= 0) throw new UsageException($"--set expects key=value, got '{assignment}'");
            string key = assignment[..eq].Trim(), raw = assignment[(eq + 1)..];
            if (key.StartsWith("finetune.", StringComparison.Ordinal))
            {
                JsonNode value;
                try { value = JsonNode.Parse(raw) ?? JsonValue.Create(raw); } catch (JsonException) { value = JsonValue.Create(raw); }
                options[key[9..]] = value;
            }
            else if (key.StartsWith("data.", StringComparison.Ordinal)) dataOptions[key[5..]] = raw;
            else if (key == "seed") seed = long.TryParse(raw, out var s) ? s : throw new UsageException($"--set seed must be an integer, got '{raw}'");
            else throw new UsageException($"--set {key}: keys are finetune.<name>, data.<name> or seed");
        }
        if (request.Epochs is { } epochs) options["epochs"] = epochs;
        FineTuneOptions resolved;
        try { resolved = (FineTuneOptions)OptionsJson.FromJson(options, typeof(FineTuneOptions)); }
        catch (JsonException e) { throw new UsageException($"bad finetune option: {e.Message.Split('\n')[0]} Known:\n  {string.Join("\n  ", OptionLines(defaults))}"); }
        try { resolved.Validate(); } catch (ArgumentException e) { throw new UsageException(e.Message); }
        return new FineTuneConfig
        {
            Parent = parent.Path, Recipe = job.Recipe, FromScratch = request.FromScratch, Data = request.Data ?? job.Data, DataOptions = dataOptions,
            Seed = seed, StartCheckpoint = request.FromScratch ? null : parent.NewestCheckpoint(), Finetune = resolved,
        };
    }

    static void SaveRows(List<FineTuneMetricRow> rows, string path)
    {
        string tmp = path + ".tmp";
        using (var fs = File.Create(tmp)) ParquetSerializer.SerializeAsync(rows, fs).GetAwaiter().GetResult();
        File.Move(tmp, path, true);
    }

    /// <summary>loss.png (train loss per logged step) and accuracy.png (val and test accuracy per epoch).</summary>
    static void Plots(List<FineTuneMetricRow> rows, string folder, string title)
    {
        var steps = rows.Where(r => r.ValAccuracy is null && r.TestAccuracy is null).Select(r => new LossPoint(r.Step, r.Loss, r.Lr)).ToList();
        LossPlot.Save(Path.Combine(folder, "loss.png"), steps, new LossPlotOptions { Title = $"{title}: training loss and learning rate" });
        var epochs = rows.Where(r => r.TestAccuracy is not null).Select(r => new AccuracyPoint(r.Epoch + 1, r.ValAccuracy ?? double.NaN, r.TestAccuracy ?? double.NaN)).ToList();
        AccuracyPlot.Save(Path.Combine(folder, "accuracy.png"), epochs, $"{title}: accuracy");
    }

    /// <summary>Appends one JSON line (the result, with its kind and time) to the run's evaluations.jsonl.</summary>
    public static void AppendEvaluation(RunFolder run, string kind, JsonObject result)
    {
        var line = new JsonObject { ["kind"] = kind, ["verb"] = kind, ["time"] = DateTime.UtcNow.ToString("O") };   // "verb" as probe lines have it
        foreach (var (k, v) in result) line[k] = v?.DeepClone();
        run.AppendEvaluation(line);
    }
}
