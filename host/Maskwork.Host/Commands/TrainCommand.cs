using System.Runtime.InteropServices;
using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Devices;
using Maskwork.Backend.Distributed;
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
    /// <summary>mpi, none or auto (MPI when started by mpirun).</summary>
    public string Dist { get; init; } = "auto";
}

/// <summary>What <c>resume</c> is asked for.</summary>
public sealed record ResumeArgs(string Run, int? Steps)
{
    /// <summary>mpi, none or auto (MPI when started by mpirun).</summary>
    public string Dist { get; init; } = "auto";
    /// <summary>Continue a checkpoint written under another world size.</summary>
    public bool ForceWorldSize { get; init; }
}

/// <summary><c>pretrain</c> and <c>resume</c>: one loop, two ways in.</summary>
public sealed class TrainCommand(Workspace workspace)
{
    public const int Interrupted = 130;
    const string FailedPrefix = "failed:"; // a run folder path is absolute, so it never starts with this

    public async Task<int> PretrainAsync(PretrainArgs args, Output output, CancellationToken ct)
    {
        using var comm = OpenCommunicator(args.Dist);
        return await OnAllRanks(comm, "pretrain", async () =>
        {
            var (job, recipe) = JobConfig.Resolve(args, workspace.Catalog);
            // Rank 0 makes the run folder (its default name has the time in it) and tells the others where it is.
            RunFolder? made = null;
            string? error = null;
            if (comm.Rank == 0)
            {
                try
                {
                    made = RunFolder.Create(args.Out, workspace.Options.RunsRoot, recipe.Name);
                    job.Save(made.Config);
                    made.AppendLog($"pretrain {recipe.Name} data={job.Data} seed={job.Seed} device={job.Device} precision={job.Precision} world_size={comm.Size}");
                }
                catch (CommandException e) { error = e.Message; }
            }
            string? path = Collectives.Broadcast(comm, made?.Path ?? FailedPrefix + error);
            if (path!.StartsWith(FailedPrefix, StringComparison.Ordinal)) throw new CommandException(comm.Rank == 0 ? path[FailedPrefix.Length..] : $"rank 0 could not create the run folder: {path[FailedPrefix.Length..]}");
            var run = made ?? new RunFolder(path);
            return await TrainAsync(comm, run, job, recipe, args.Steps ?? job.Train.Steps, resume: false, forceWorldSize: false, output, ct);
        });
    }

    public async Task<int> ResumeAsync(ResumeArgs args, Output output, CancellationToken ct)
    {
        using var comm = OpenCommunicator(args.Dist);
        return await OnAllRanks(comm, "resume", async () =>
        {
            var run = RunFolder.Open(args.Run); // a shared folder: the same path on every node
            var job = JobConfig.Load(run.Config);
            var recipe = workspace.Recipe(job.Recipe);
            int stop = args.Steps ?? job.Train.Steps;
            if (comm.Rank == 0) run.AppendLog($"resume to step {stop} world_size={comm.Size}");
            return await TrainAsync(comm, run, job, recipe, stop, resume: true, args.ForceWorldSize, output, ct);
        });
    }

    static ICommunicator OpenCommunicator(string choice)
    {
        try { return Communicators.Create(choice); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        catch (CommunicatorException e) { throw new CommandException(e.Message); }
    }

    /// <summary>
    /// Runs a training verb on every rank. In a job of several ranks a failure must end the whole job:
    /// the other ranks would wait for it in the next collective forever. Rank 0 says why and aborts;
    /// another rank first gives rank 0 (which usually fails the same way) a moment to say it.
    /// </summary>
    static async Task<int> OnAllRanks(ICommunicator comm, string verb, Func<Task<int>> work)
    {
        if (comm.Size == 1) return await work();
        try { return await work(); }
        catch (Exception e)
        {
            int code = e is UsageException ? 2 : 1;
            if (comm.Rank != 0) Thread.Sleep(3000);
            Console.Error.WriteLine($"maskwork {verb} (rank {comm.Rank} of {comm.Size}): {(e is CommandException or UsageException ? e.Message : e.ToString())}");
            Console.Error.WriteLine($"maskwork {verb}: aborting all {comm.Size} ranks");
            comm.Abort(code);
            return code;
        }
    }

    /// <summary>Trains; a run that cannot start or stops with an error says so in its status.json.</summary>
    async Task<int> TrainAsync(ICommunicator comm, RunFolder run, JobConfig job, IRecipe recipe, long stopAt, bool resume, bool forceWorldSize, Output output, CancellationToken ct)
    {
        try { return await TrainCoreAsync(comm, run, job, recipe, stopAt, resume, forceWorldSize, output, ct); }
        catch (Exception e) when (e is CommandException or UsageException && comm.Rank == 0)
        {
            var status = run.ReadStatus();
            if (status?.State != "failed")
                run.WriteStatus((status ?? new RunStatus { Recipe = recipe.Name, Data = job.Data, TargetSteps = stopAt }) with { State = "failed", Reason = e.Message, Updated = DateTime.UtcNow });
            throw;
        }
    }

    async Task<int> TrainCoreAsync(ICommunicator comm, RunFolder run, JobConfig job, IRecipe recipe, long stopAt, bool resume, bool forceWorldSize, Output output, CancellationToken ct)
    {
        bool writer = comm.Rank == 0; // rank 0 writes checkpoints, metrics, pictures, status and log
        var device = workspace.Device(job.Device);
        if (comm.Size > 1)
        {
            // Ranks on one machine share its cores (one thread each on a 2-core machine with -np 2), and its GPUs.
            if (workspace.Options.Threads == 0) set_num_threads(Math.Max(1, Environment.ProcessorCount / Math.Max(1, comm.LocalSize)));
            if (device.type == TorchSharp.DeviceType.CUDA && comm.LocalSize > 1) device = new Device(TorchSharp.DeviceType.CUDA, comm.LocalRank % Math.Max(1, (int)cuda.device_count()));
        }
        ScalarType precision;
        try { precision = Precision.Parse(job.Precision); } catch (ArgumentException e) { throw new UsageException(e.Message); }
        if (writer && Precision.Bf16Warning(precision, device) is { } slow) { Console.Error.WriteLine("warning: " + slow); run.AppendLog("warning: " + slow); }
        var spec = job.DataSpec("train");
        manual_seed(job.Seed);
        ModelParts parts;
        try { parts = recipe.Build(job.ModelOptions(recipe), new BuildContext(device, spec) { Tokenizers = workspace.Catalog.Registry, RunFolder = run.Path, Seed = job.Seed }); }
        catch (ArgumentException e) { throw new CommandException($"recipe {recipe.Name}: {e.Message}"); }

        var data = await DataLoading.OpenAsync(spec, workspace.Catalog.Registry, workspace.Options.FailOnBadInput, ct);
        if (data.Source.Count == 0) throw new CommandException($"{spec} produced no usable samples ({data.Issues.Count} skipped)");
        // A streamed source may skip rows later (a corrupt row group found when first read): they count here as they happen.
        long Skipped() => data.Issues.SkippedSamples;
        int logged = 0;
        void Log(string line) { if (writer) run.AppendLog(line); }
        void LogSkips() { foreach (var (file, reason) in data.Issues.Items.Skip(logged)) { Log($"skipped {file}: {reason}"); logged++; } }
        LogSkips();
        Log($"data {spec}: {data.Source.Count} samples ({data.Source.GetType().Name})");

        Trainer made;
        try
        {
            made = new Trainer(new TrainerSetup(recipe.Name, parts, job.Train, job.Seed, device, precision) { Communicator = comm, AllowWorldSizeChange = forceWorldSize }, data.Source);
        }
        catch (ArgumentException e) { throw new UsageException(e.Message); } // option values the trainer refuses (train.workers)
        using var trainer = made;
        if (resume)
        {
            try { LoadNewest(run, trainer); }
            catch (WorldSizeMismatchException e) { throw new CommandException(e.Message); }
            if (forceWorldSize) Log("resumed under another world size (--force-world-size): the run no longer retraces the original");
        }
        // Every rank loaded the same file from the shared run folder: check that the replicas agree before training.
        if (comm.Size > 1 && !trainer.ReplicasIdentical())
            throw new CommandException($"the {comm.Size} ranks do not hold the same model after {(resume ? "loading the checkpoint (does every node see the same run folder?)" : "the broadcast")}");
        Log($"workers={trainer.Workers} threads={get_num_threads()} world_size={comm.Size} dist={comm.Kind}");
        var metrics = writer ? await MetricsLog.OpenAsync(run.Metrics, trainer.Step) : null;
        long startStep = trainer.Step;

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; cts.Cancel(); });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; cts.Cancel(); });

        var clock = System.Diagnostics.Stopwatch.StartNew();
        double lastLoss = double.NaN, samplesPerSecondSum = 0, allReduceSeconds = 0, stepSeconds = 0, teacherSeconds = 0;
        double? featureStd = null; // the collapse guard's last measure (teacher recipes)
        bool collapseLogged = false;
        long timedSteps = 0;
        bool replicasIdentical = true;
        double AverageSamplesPerSecond() => timedSteps > 0 ? samplesPerSecondSum / timedSteps : 0;
        RunStatus Status(string state, string? reason = null) => new()
        {
            State = state, Recipe = recipe.Name, Data = job.Data, Steps = trainer.Step, TargetSteps = stopAt,
            FinalLoss = double.IsFinite(lastLoss) ? lastLoss : null, SamplesPerS = Math.Round(AverageSamplesPerSecond(), 2), Reason = reason,
        };
        if (writer) run.WriteStatus(Status("running"));
        void Save(Trainer t)
        {
            // A collective on every rank: the replicas must still be bitwise identical when their state is written.
            if (comm.Size > 1 && !(replicasIdentical &= t.ReplicasIdentical()))
                throw new CommandException($"the {comm.Size} ranks' parameters drifted apart by step {t.Step}: the gradient all-reduce is not doing its job");
            if (!writer) return;
            LogSkips();
            t.Save(run.StepCheckpoint(t.Step), Skipped());
            File.Copy(run.StepCheckpoint(t.Step), run.LastCheckpoint + ".tmp", true);
            File.Move(run.LastCheckpoint + ".tmp", run.LastCheckpoint, true);
            metrics!.SaveAsync().GetAwaiter().GetResult();
            run.WriteStatus(Status("running"));
            foreach (var old in Directory.GetFiles(run.Checkpoints, "step-*.ckpt")
                         .Select(f => (f, s: long.TryParse(Path.GetFileNameWithoutExtension(f)[5..], out var n) ? n : -1))
                         .OrderByDescending(x => x.s).Skip(3)) File.Delete(old.f);
        }

        string? failure = null;
        void OnStep(StepReport report, IProgressTask? progress)
        {
            lastLoss = report.Loss;
            if (report.Step > startStep + 1)
            {
                samplesPerSecondSum += report.SamplesPerSecond; timedSteps++;
                allReduceSeconds += report.Timings?.AllReduce ?? 0; stepSeconds += report.Seconds;
                teacherSeconds += report.Timings?.Teacher ?? 0;
            }
            featureStd = report.FeatureStd ?? featureStd;
            if (report.CollapseWarning is { } collapse && !collapseLogged)
            {
                collapseLogged = true;
                Log("collapse_warning: " + collapse);
                if (writer) Console.Error.WriteLine($"warning at step {report.Step}: {collapse}");
            }
            if (!writer) return;
            {
                if (report.Step % Math.Max(1, job.Train.LogEvery) == 0 || report.Step == stopAt || report.Skipped)
                {
                    metrics!.Add(new MetricRow
                    {
                        Step = report.Step, Loss = report.Loss, Lr = report.Lr, SamplesPerS = report.SamplesPerSecond, GradNorm = report.GradNorm,
                        NonFiniteSteps = trainer.NonFiniteSteps, SkippedSamples = Skipped(), ElapsedS = clock.Elapsed.TotalSeconds,
                    });
                    run.AppendProgress(new
                    {
                        step = report.Step, loss = double.IsFinite(report.Loss) ? report.Loss : (double?)null, lr = report.Lr,
                        samples_per_s = Math.Round(report.SamplesPerSecond, 2), elapsed = Math.Round(clock.Elapsed.TotalSeconds, 3),
                        feature_std = report.FeatureStd is { } fs ? Math.Round(fs, 4) : (double?)null,
                    });
                }
                progress?.Report(report.Step, $"loss {report.Loss:F4} · {report.SamplesPerSecond:F0} samples/s");
            }
        }
        try
        {
            if (writer) Progress.Run($"pretrain {recipe.Name}", stopAt, "steps", progress => trainer.Run(stopAt, cts.Token, r => OnStep(r, progress), Save));
            else trainer.Run(stopAt, cts.Token, r => OnStep(r, null), Save);
        }
        catch (NonFiniteLossException e) { failure = e.Message; } // decided after the reduce: every rank throws at the same step
        catch (InvalidDataFileException e) when (comm.Size == 1) { failure = $"bad input {e.File}: {e.Reason}"; } // on one rank alone: the job aborts

        Save(trainer);
        long skipped = Skipped();
        double samplesPerSecond = AverageSamplesPerSecond();
        bool interrupted = cts.IsCancellationRequested && trainer.Step < stopAt || comm.Size > 1 && trainer.Step < stopAt && failure is null;
        if (!writer)
        {
            // mpirun aborts the whole job when a rank exits non-zero (interrupted, failed): wait until rank 0 has written
            // its checkpoint, pictures and result before leaving.
            comm.Barrier();
            if (failure is not null) throw new CommandException(failure);
            return interrupted ? Interrupted : 0;
        }
        try { return Finish(); }
        finally { comm.Barrier(); } // (the other ranks wait here for rank 0)

        int Finish()
        {
            LossPlot.Save(run.LossPlot, metrics!.Rows.Select(r => new LossPoint(r.Step, r.Loss, r.Lr)).ToList(),
                new LossPlotOptions { Title = $"{recipe.Name} on {job.Data}: loss and learning rate" });
            RenderReconstructions(trainer.Model, trainer.Step, data.Samples, job.Seed, device, precision, run.Reconstructions);
            run.AppendLog($"stopped at step {trainer.Step}, loss {lastLoss:R}, {samplesPerSecond:F1} samples/s, {trainer.NonFiniteSteps} non-finite steps, {skipped} skipped samples, data wait {trainer.DataWaitSeconds:F2}s"
                + (comm.Size > 1 ? $", {comm.Size} ranks, all-reduce {Share(allReduceSeconds, stepSeconds):P1} of the step" : "")
                + (teacherSeconds > 0 ? $", teacher {Share(teacherSeconds, stepSeconds):P1} of the step, feature std {featureStd:F3}" : ""));

            if (failure is not null)
            {
                run.AppendLog("failed: " + failure);
                run.WriteStatus(Status("failed", failure));
                throw new CommandException(failure);
            }
            run.WriteStatus(Status(interrupted ? "interrupted" : "finished"));
            if (interrupted) Console.Error.WriteLine($"interrupted at step {trainer.Step}; checkpoint written. Continue with: {(comm.Size > 1 ? $"mpirun -np {comm.Size} " : "")}maskwork resume --run {run.Path}");

            output.Result(new
            {
                run = run.Path, recipe = recipe.Name, steps = trainer.Step, final_loss = lastLoss, samples_per_s = Math.Round(samplesPerSecond, 2),
                skipped_samples = skipped, nonfinite_steps = trainer.NonFiniteSteps, precision = Precision.Name(precision), device = device.type.ToString().ToLowerInvariant(), workers = trainer.Workers,
                data_wait_s = Math.Round(trainer.DataWaitSeconds, 3), interrupted,
                world_size = comm.Size, dist = comm.Kind, global_batch = job.Train.Batch * comm.Size, replicas_identical = replicasIdentical,
                allreduce_share = Math.Round(Share(allReduceSeconds, stepSeconds), 4),
                teacher_share = Math.Round(Share(teacherSeconds, stepSeconds), 4), feature_std = featureStd is { } f ? Math.Round(f, 4) : (double?)null,
                collapse_warning = trainer.CollapseWarning,
            }, () => $"run {run.Path}: {trainer.Step} steps, final loss {lastLoss:F4}, {samplesPerSecond:F1} samples/s{(comm.Size > 1 ? $" on {comm.Size} ranks" : "")}; pictures: {run.LossPlot}, {run.Reconstructions}");
            return interrupted ? Interrupted : 0;
        }
    }

    static double Share(double part, double whole) => whole > 0 ? part / whole : 0;

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
        var plan = model.Plan(tokens, new MaskContext(step, generator) { Seed = seed }); // through the model: a guided masker gets its guidance
        var result = model.Forward(tokens, plan);
        if (training) model.train();
        if (result.Reconstruction is null) return;
        var (h, w, rgb) = parts.Renderer.Render(tokens, plan, result.Reconstruction, parts.Tokenizer);
        new RgbImage(w, h, rgb).SavePng(path);
    }
}
