using System.Runtime.InteropServices;
using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Devices;
using Maskwork.Backend.Training;
using Maskwork.Backend.Visuals;
using Maskwork.Host.Cli;
using Maskwork.Host.Data;
using Maskwork.Host.Runs;
using static TorchSharp.torch;

namespace Maskwork.Host.Commands;

/// <summary>What <c>pretrain</c> is asked for; null means "not given" (the job file, then the recipe decide).</summary>
public sealed record PretrainArgs
{
    public string? Recipe { get; init; }
    public string? Data { get; init; }
    public string? Config { get; init; }
    public int? Steps { get; init; }
    public int? Batch { get; init; }
    public string? Device { get; init; }
    public string? Precision { get; init; }
    public long? Seed { get; init; }
    public string? Out { get; init; }
    /// <summary><c>key=value</c> overrides: train.*, model.*, data.*, seed, device, precision.</summary>
    public IReadOnlyList<string> Sets { get; init; } = [];
}

/// <summary>What <c>resume</c> is asked for.</summary>
public sealed record ResumeArgs(string Run, int? Steps);

/// <summary><c>pretrain</c> and <c>resume</c>: one loop, two ways in.</summary>
public sealed class TrainCommand(Workspace workspace)
{
    public const int Interrupted = 130;

    public async Task<int> PretrainAsync(PretrainArgs args, Output output, CancellationToken ct)
    {
        var (job, recipe) = JobConfig.Resolve(args, workspace.Catalog);
        var run = RunFolder.Create(args.Out, workspace.Options.RunsRoot, recipe.Name);
        job.Save(run.Config);
        run.AppendLog($"pretrain {recipe.Name} data={job.Data} seed={job.Seed} device={job.Device} precision={job.Precision}");
        return await TrainAsync(run, job, recipe, args.Steps ?? job.Train.Steps, resume: false, output, ct);
    }

    public async Task<int> ResumeAsync(ResumeArgs args, Output output, CancellationToken ct)
    {
        var run = RunFolder.Open(args.Run);
        var job = JobConfig.Load(run.Config);
        var recipe = workspace.Recipe(job.Recipe);
        int stop = args.Steps ?? job.Train.Steps;
        run.AppendLog($"resume to step {stop}");
        return await TrainAsync(run, job, recipe, stop, resume: true, output, ct);
    }

    async Task<int> TrainAsync(RunFolder run, JobConfig job, IRecipe recipe, long stopAt, bool resume, Output output, CancellationToken ct)
    {
        var device = workspace.Device(job.Device);
        ScalarType precision;
        try { precision = Precision.Parse(job.Precision); } catch (ArgumentException e) { throw new UsageException(e.Message); }
        var spec = job.DataSpec("train");
        manual_seed(job.Seed);
        ModelParts parts;
        try { parts = recipe.Build(job.ModelOptions(recipe), new BuildContext(device, spec)); }
        catch (ArgumentException e) { throw new CommandException($"recipe {recipe.Name}: {e.Message}"); }

        var data = await DataLoading.LoadAsync(spec, workspace.Catalog.Registry, workspace.Options.FailOnBadInput, ct);
        if (data.Samples.Count == 0) throw new CommandException($"{spec} produced no usable samples ({data.Issues.Count} skipped)");
        long skipped = data.Issues.Count;
        foreach (var (file, reason) in data.Issues.Items) run.AppendLog($"skipped {file}: {reason}");

        Trainer made;
        try { made = new Trainer(new TrainerSetup(recipe.Name, parts, job.Train, job.Seed, device, precision), new SampleSet(data.Samples)); }
        catch (ArgumentException e) { throw new UsageException(e.Message); } // option values the trainer refuses (train.workers)
        using var trainer = made;
        if (resume) LoadNewest(run, trainer);
        run.AppendLog($"workers={trainer.Workers} threads={get_num_threads()}");
        var metrics = await MetricsLog.OpenAsync(run.Metrics, trainer.Step);
        long startStep = trainer.Step;

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; cts.Cancel(); });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; cts.Cancel(); });

        var clock = System.Diagnostics.Stopwatch.StartNew();
        double lastLoss = double.NaN, samplesPerSecondSum = 0;
        long timedSteps = 0;
        void Save(Trainer t)
        {
            t.Save(run.StepCheckpoint(t.Step), skipped);
            File.Copy(run.StepCheckpoint(t.Step), run.LastCheckpoint + ".tmp", true);
            File.Move(run.LastCheckpoint + ".tmp", run.LastCheckpoint, true);
            metrics.SaveAsync().GetAwaiter().GetResult();
            foreach (var old in Directory.GetFiles(run.Checkpoints, "step-*.ckpt")
                         .Select(f => (f, s: long.TryParse(Path.GetFileNameWithoutExtension(f)[5..], out var n) ? n : -1))
                         .OrderByDescending(x => x.s).Skip(3)) File.Delete(old.f);
        }

        string? failure = null;
        try
        {
            Progress.Run($"pretrain {recipe.Name}", stopAt, "steps", progress => trainer.Run(stopAt, cts.Token, report =>
            {
                lastLoss = report.Loss;
                if (report.Step > startStep + 1) { samplesPerSecondSum += report.SamplesPerSecond; timedSteps++; }
                if (report.Step % Math.Max(1, job.Train.LogEvery) == 0 || report.Step == stopAt || report.Skipped)
                    metrics.Add(new MetricRow
                    {
                        Step = report.Step, Loss = report.Loss, Lr = report.Lr, SamplesPerS = report.SamplesPerSecond, GradNorm = report.GradNorm,
                        NonFiniteSteps = trainer.NonFiniteSteps, SkippedSamples = skipped, ElapsedS = clock.Elapsed.TotalSeconds,
                    });
                progress.Report(report.Step, $"loss {report.Loss:F4} · {report.SamplesPerSecond:F0} samples/s");
            }, Save));
        }
        catch (NonFiniteLossException e) { failure = e.Message; }
        catch (InvalidDataFileException e) { failure = $"bad input {e.File}: {e.Reason}"; }

        Save(trainer);
        LossPlot.Save(run.LossPlot, metrics.Rows.Select(r => new LossPoint(r.Step, r.Loss, r.Lr)).ToList(),
            new LossPlotOptions { Title = $"{recipe.Name} on {job.Data}: loss and learning rate" });
        RenderReconstructions(trainer.Model, trainer.Step, data.Samples, job.Seed, device, precision, run.Reconstructions);
        double samplesPerSecond = timedSteps > 0 ? samplesPerSecondSum / timedSteps : 0;
        run.AppendLog($"stopped at step {trainer.Step}, loss {lastLoss:R}, {samplesPerSecond:F1} samples/s, {trainer.NonFiniteSteps} non-finite steps, {skipped} skipped samples, data wait {trainer.DataWaitSeconds:F2}s");

        if (failure is not null) { run.AppendLog("failed: " + failure); throw new CommandException(failure); }
        bool interrupted = cts.IsCancellationRequested && trainer.Step < stopAt;
        if (interrupted) Console.Error.WriteLine($"interrupted at step {trainer.Step}; checkpoint written. Continue with: maskwork resume --run {run.Path}");

        output.Result(new
        {
            run = run.Path, recipe = recipe.Name, steps = trainer.Step, final_loss = lastLoss, samples_per_s = Math.Round(samplesPerSecond, 2),
            skipped_samples = skipped, nonfinite_steps = trainer.NonFiniteSteps, precision = Precision.Name(precision), device = device.type.ToString().ToLowerInvariant(), workers = trainer.Workers,
            data_wait_s = Math.Round(trainer.DataWaitSeconds, 3), interrupted,
        }, () => $"run {run.Path}: {trainer.Step} steps, final loss {lastLoss:F4}, {samplesPerSecond:F1} samples/s; pictures: {run.LossPlot}, {run.Reconstructions}");
        return interrupted ? Interrupted : 0;
    }

    static void LoadNewest(RunFolder run, Trainer trainer)
    {
        var candidates = new[] { run.LastCheckpoint }.Concat(Directory.Exists(run.Checkpoints)
            ? Directory.GetFiles(run.Checkpoints, "step-*.ckpt").OrderByDescending(f => long.TryParse(Path.GetFileNameWithoutExtension(f)[5..], out var s) ? s : -1)
            : []).Where(File.Exists).ToList();
        if (candidates.Count == 0) throw new CommandException($"{run.Path} has no checkpoint to resume from");
        var errors = new List<string>();
        foreach (var path in candidates)
        {
            try
            {
                trainer.Load(path);
                if (errors.Count > 0) Console.Error.WriteLine($"resumed from {path} after skipping: {string.Join("; ", errors)}");
                return;
            }
            catch (CheckpointException e) { errors.Add(e.Message); }
        }
        throw new CommandException($"no loadable checkpoint in {run.Checkpoints}: {string.Join("; ", errors)}");
    }

    /// <summary>The fixed picture set: the first samples of the data, masked with the run's seed.</summary>
    public static void RenderReconstructions(MaskedModel model, long step, IReadOnlyList<Sample> samples, long seed, Device device, ScalarType precision, string path, int count = 8)
    {
        var parts = model.Parts;
        if (parts.Renderer is null) return;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using var __ = Precision.Use(precision);
        bool training = model.training;
        model.eval();
        using var generator = new Generator((ulong)seed);
        var tokens = parts.Tokenizer.Tokenize(samples.Take(count).ToList(), device);
        var plan = parts.Masker.Plan(tokens, new MaskContext(step, generator));
        var result = model.Forward(tokens, plan);
        if (training) model.train();
        if (result.Reconstruction is null) return;
        var (h, w, rgb) = parts.Renderer.Render(tokens, plan, result.Reconstruction, parts.Tokenizer);
        new RgbImage(w, h, rgb).SavePng(path);
    }
}
