using System.Diagnostics;
using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Distributed;
using TorchSharp;
using static TorchSharp.torch;
using TorchDevice = TorchSharp.torch.Device;

namespace Maskwork.Backend.Training;

/// <summary>Everything the trainer needs besides data.</summary>
public sealed record TrainerSetup(string Recipe, ModelParts Parts, TrainOptions Options, long Seed, TorchDevice Device, ScalarType Precision)
{
    /// <summary>Optional training-time augmentation of raw samples, run on the background data thread.</summary>
    public ISampleAugment? Augment { get; init; }

    /// <summary>How many batches the background pipeline may prepare ahead of the step (bounded memory).</summary>
    public int PrefetchDepth { get; init; } = 3;

    /// <summary>
    /// The ranks training together (DESIGN.md section 11); one process by default. With N ranks,
    /// <see cref="TrainOptions.Batch"/> is per rank: N ranks × batch B train like one process with batch N·B.
    /// </summary>
    public ICommunicator Communicator { get; init; } = SingleProcess.Instance;

    /// <summary>Lets <see cref="Trainer.Load"/> continue a checkpoint written under another world size (see <see cref="WorldSizeMismatchException"/>).</summary>
    public bool AllowWorldSizeChange { get; init; }
}

/// <summary>Refuses to resume a checkpoint written by another number of ranks, saying what would change.</summary>
public sealed class WorldSizeMismatchException(string path, int saved, int now, int batch)
    : Exception($"checkpoint {path}: written by {saved} rank{(saved == 1 ? "" : "s")}, resumed by {now}. Under another world size the global batch " +
        $"({saved}×{batch} → {now}×{batch}), the learning rate scaled by it and the samples each step reads change, so the run would not retrace the original. " +
        $"Resume it with {(saved == 1 ? "one process (no mpirun)" : $"mpirun -np {saved}")}, or pass --force-world-size to continue anyway.")
{
    public string Path { get; } = path;
    public int SavedWorldSize { get; } = saved;
    public int WorldSize { get; } = now;
}

/// <summary>Where the wall time of one step went (seconds): waiting for/finishing the batch and masking, forward, backward, optimizer.</summary>
public sealed record StepTimings(double Data, double Forward, double Backward, double Optimizer)
{
    /// <summary>Of <see cref="Optimizer"/>: seconds in the gradient all-reduce across ranks (0 in one process).</summary>
    public double AllReduce { get; init; }

    /// <summary>Seconds in teachers (<see cref="ITrainingHooks"/>): their forwards, a part of <see cref="Forward"/>, and EMA updates (0 without one).</summary>
    public double Teacher { get; init; }
}

/// <summary>What one optimizer step did.</summary>
public sealed record StepReport(long Step, double Loss, double Lr, double GradNorm, bool Skipped, double SamplesPerSecond, double Seconds)
{
    /// <summary>The step's time split.</summary>
    public StepTimings? Timings { get; init; }

    /// <summary>The collapse guard's measure of the student's features this step, when the model has one (<see cref="CollapseGuard"/>).</summary>
    public double? FeatureStd { get; init; }

    /// <summary>Set from the step at which the student's features were found collapsed (<see cref="CollapseGuard"/>).</summary>
    public string? CollapseWarning { get; init; }
}

/// <summary>Raised when too many consecutive steps had a non-finite loss; the last good state is checkpointed first.</summary>
public sealed class NonFiniteLossException(long step, int count)
    : Exception($"the loss was not finite for {count} consecutive steps (last at step {step}); the last good state was checkpointed. Lower the learning rate (--set train.base_lr=...) or use --precision fp32.");

/// <summary>
/// The training loop (DESIGN.md section 2): batch → tokens → mask → encode → objective → backward →
/// clip → AdamW → schedule. Every random choice of step k derives from (seed, k), so a run resumed
/// from a checkpoint retraces an uninterrupted one exactly.
/// </summary>
public sealed class Trainer : IDisposable
{
    readonly TrainerSetup setup;
    readonly ISampleSource data;
    readonly DataPartition batches;
    readonly LrSchedule schedule;
    readonly Generator generator = new(0);
    readonly List<Generator> sliceGenerators = []; // one per slice when batches are split (slice i of step k seeded from (seed, k, i))
    readonly ICommunicator comm;
    readonly ITrainingHooks[] hooks; // teachers and guards of the encoder or objective; usually none
    int consecutiveNonFinite;
    bool stopAgreed;

    public Trainer(TrainerSetup setup, SampleSet data) : this(setup, (ISampleSource)data) { }

    /// <summary>
    /// A trainer reading its batches from <paramref name="data"/> in the seeded epoch order (<see cref="EpochOrder"/>):
    /// its rank's slice of every global batch (<see cref="DataPartition"/>), starting from rank 0's parameters.
    /// </summary>
    public Trainer(TrainerSetup setup, ISampleSource data)
    {
        if (data.Count <= 0) throw new ArgumentException("the data source has no samples");
        this.setup = setup;
        this.data = data;
        comm = setup.Communicator;
        Devices.NativeTuning.KeepFreedMemory();
        Model = new MaskedModel(setup.Parts);
        Model.to(setup.Device);
        Model.train();
        Optimizer = new FlatAdamW(
            Model.named_parameters().Select(p => new OptimizedParameter(p.name, p.parameter,
                setup.Options.WeightDecayMode == WeightDecayMode.L2 || MaskedModel.Decays(p.name, p.parameter))).ToList(),
            setup.Options.Beta1, setup.Options.Beta2, setup.Options.WeightDecay, mode: setup.Options.WeightDecayMode);
        batches = new DataPartition(EpochOrder.For(data, setup.Seed), setup.Options.Batch, comm.Rank, comm.Size);
        // The learning rate scales with the effective batch, N·B.
        schedule = LrSchedule.From(comm.Size == 1 ? setup.Options : setup.Options with { Batch = setup.Options.Batch * comm.Size });
        Workers = ResolveWorkers(setup);
        hooks = new object[] { setup.Parts.Encoder, setup.Parts.Objective }.OfType<ITrainingHooks>().Distinct().ToArray();
        if (comm.Size > 1)
        {
            // Every rank starts from rank 0's model (parameters are one flat buffer; buffers such as norm statistics one by one).
            Collectives.Broadcast(comm, Optimizer.Parameters);
            foreach (var (_, b) in Model.named_buffers()) Collectives.Broadcast(comm, b);
        }
    }

    /// <summary>This trainer's rank and the number of ranks training together.</summary>
    public int Rank => comm.Rank;

    /// <summary>Ranks training together (1 in one process).</summary>
    public int WorldSize => comm.Size;

    /// <summary>
    /// True on every rank when all ranks hold bitwise identical parameters and optimizer state (a collective:
    /// every rank must call it). Always true in one process.
    /// </summary>
    public bool ReplicasIdentical() =>
        Collectives.Identical(comm, [Optimizer.Parameters, Optimizer.ExpAvg, Optimizer.ExpAvgSq, .. Model.named_buffers().Select(b => b.buffer)]);

    /// <summary>
    /// Slices each micro-batch is split into, each run by its own worker thread (see
    /// <see cref="TrainOptions.Workers"/>). Fixed for a run: a checkpoint records it and a resume reuses it.
    /// </summary>
    public int Workers { get; private set; }

    static bool CanSplit(TrainerSetup setup) =>
        setup.Device.type == DeviceType.CPU && setup.Parts.IndependentSamples && Math.Max(1, setup.Options.Accumulate) == 1;

    static int ResolveWorkers(TrainerSetup setup)
    {
        var o = setup.Options;
        if (o.Workers is < 0 or > 2)
            throw new ArgumentException($"train.workers is {o.Workers}: use 0 (automatic), 1 or 2 (with more workers the order of the gradient sums, and so the run, would depend on thread timing)");
        bool possible = CanSplit(setup);
        if (o.Workers == 2 && !possible)
            throw new ArgumentException($"train.workers=2 needs the CPU, train.accumulate=1 and a recipe whose samples are independent; {setup.Recipe} on {setup.Device.type} with accumulate {o.Accumulate}"
                + (setup.Parts.IndependentSamples ? "" : " couples samples in its loss") + ". Use train.workers=1.");
        return o.Workers switch { 1 => 1, 2 => 2, _ => possible && get_num_threads() >= 2 ? 2 : 1 };
    }

    public MaskedModel Model { get; }
    public FlatAdamW Optimizer { get; }
    public TrainOptions Options => setup.Options;
    public long Step { get; private set; }
    public long NonFiniteSteps { get; private set; }
    public long SamplesSeen { get; private set; }

    /// <summary>The first collapse warning of the model's hooks (<see cref="CollapseGuard"/>), or null.</summary>
    public string? CollapseWarning { get; private set; }

    /// <summary>Seconds the loop waited for data since construction.</summary>
    public double DataWaitSeconds { get; private set; }

    static long Mix(long seed, long step, long micro) => SeedMix.Of(seed, step, micro) & 0x7fffffffL;

    /// <summary>Trains until <paramref name="untilStep"/> steps are done, the token is cancelled, or the loss diverges.</summary>
    public void Run(long untilStep, CancellationToken ct, Action<StepReport>? onStep = null, Action<Trainer>? onCheckpoint = null)
    {
        int accumulate = Math.Max(1, setup.Options.Accumulate);
        // Reading, augmentation and (for pure tokenizers) tokenization run on the prefetch thread,
        // a bounded number of batches ahead; the trainer thread moves tokens to the device and owns them.
        int slices = Workers;
        using var prefetch = new BatchPrefetcher<PreparedBatch[]>(
            k => PreparedBatch.MakeSlices(batches.Read(data, k), k, setup.Augment, setup.Parts.Tokenizer, slices),
            Step * accumulate, Math.Max(1, setup.PrefetchDepth), dispose: Release);
        // The trainer thread's tensor-op threads, shared between the slice workers.
        using var workers = slices > 1 ? new SliceWorkers(slices, get_num_threads() / slices) : null;
        while (sliceGenerators.Count < slices) sliceGenerators.Add(new Generator(0));
        try
        {
            stopAgreed = false;
            // With several ranks the stop is agreed inside each step (a rank that stopped alone would leave the others waiting).
            while (Step < untilStep && !(comm.Size == 1 ? ct.IsCancellationRequested : stopAgreed))
            {
                var report = TrainStep(prefetch, workers, accumulate, ct);
                onStep?.Invoke(report);
                if (setup.Options.CheckpointEvery > 0 && Step % setup.Options.CheckpointEvery == 0 && Step < untilStep)
                    onCheckpoint?.Invoke(this);
            }
        }
        finally
        {
            DataWaitSeconds += prefetch.WaitSeconds;
        }
    }

    /// <summary>Tokens of a prepared batch on the training device, made here when the background thread could not.</summary>
    TokenBatch DeviceTokens(PreparedBatch batch)
    {
        if (batch.Tokens is not { } t) return setup.Parts.Tokenizer.Tokenize(batch.Samples, setup.Device);
        return setup.Device.type == DeviceType.CPU ? t : ToDevice(t, setup.Device);
    }

    /// <summary>
    /// A batch's tensors on <paramref name="device"/> (pinned, non-blocking), a composite batch's parts too; the sample
    /// keys stay on the host, where the maskers read them.
    /// </summary>
    static TokenBatch ToDevice(TokenBatch t, Device device)
    {
        Tensor Move(Tensor x) => x.pin_memory().to(device, non_blocking: true);
        return t with
        {
            Tokens = Move(t.Tokens), Positions = t.Positions is null ? null : Move(t.Positions),
            Padding = t.Padding is null ? null : Move(t.Padding), Labels = t.Labels is null ? null : Move(t.Labels),
            Extras = t.Extras.ToDictionary(kv => kv.Key, kv => Move(kv.Value)),
            Parts = t.Parts?.ToDictionary(kv => kv.Key, kv => ToDevice(kv.Value, device)),
        };
    }

    static void Release(PreparedBatch[] slices)
    {
        foreach (var b in slices) b.Dispose();
    }

    /// <summary>What one slice's forward and backward gave: its weighted loss and where its time went.</summary>
    readonly record struct SliceResult(double Loss, double Data, double Forward, double Backward);

    /// <summary>
    /// Tokens to device, mask plan, forward, loss × <paramref name="weight"/>, and backward unless the
    /// loss is not finite, on the calling thread. Gradients accumulate into the parameters' .grad.
    /// </summary>
    SliceResult RunSlice(PreparedBatch slice, Generator masks, long seed, double weight, long firstPosition)
    {
        long t0 = Stopwatch.GetTimestamp(), t1;
        using var scope = NewDisposeScope();
        using var precision = Devices.Precision.Use(setup.Precision);
        Tensor loss;
        // The forward's own scope: its intermediates are released before backward, except what autograd saved
        // (libtorch holds those itself). TorchSharp frees a tensor only when its handle is disposed, so without this
        // every temporary of the forward (casts, normalised targets, reconstructions) lived through backward.
        using (var forward = NewDisposeScope())
        {
            masks.manual_seed(seed);
            var tokens = DeviceTokens(slice);
            // Masks are keyed per sample (seed, step, global index; position in the step's batch where unknown), never by slice.
            if (tokens.SampleKeys is null) tokens = tokens with { SampleKeys = Masking.MaskRandom.KeysOf(slice.Samples, firstPosition).to(tokens.Tokens.device) };
            var plan = Model.Plan(tokens, new MaskContext(Step, masks) { Seed = setup.Seed, TotalSteps = setup.Options.Steps });
            t1 = Stopwatch.GetTimestamp();
            loss = Model.Forward(tokens, plan).Loss;
            if (weight != 1)
            {
                using var w = weight.ToScalar(); // held: an implicit Scalar may be finalised mid-call
                loss = loss.mul(w);
            }
            forward.MoveToOuter(loss);
        }
        double value = loss.item<float>();
        long t2 = Stopwatch.GetTimestamp();
        if (double.IsFinite(value)) loss.backward();
        return new SliceResult(value, Stopwatch.GetElapsedTime(t0, t1).TotalSeconds,
            Stopwatch.GetElapsedTime(t1, t2).TotalSeconds, Stopwatch.GetElapsedTime(t2).TotalSeconds);
    }

    StepReport TrainStep(BatchPrefetcher<PreparedBatch[]> prefetch, SliceWorkers? workers, int accumulate, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        double dataS = 0, forwardS = 0, backwardS = 0;
        using var scope = NewDisposeScope();
        double lr = schedule.At(Step);
        double lossSum = 0;
        bool finite = true;
        int samples = 0;
        // The step's batch position in the global batch: rank r's samples follow ranks 0..r-1's (one process with batch N·B).
        long rankOffset = (long)comm.Rank * setup.Options.Batch;
        for (int micro = 0; micro < accumulate; micro++)
        {
            long t0 = Stopwatch.GetTimestamp();
            var slices = prefetch.Next();
            try
            {
                if (!finite) continue; // the step is skipped; its remaining micro-batches are still consumed, so the next step reads its own
                dataS += Stopwatch.GetElapsedTime(t0).TotalSeconds;
                int count = slices.Sum(b => b.Samples.Count);
                samples += count;
                long mix = Mix(setup.Seed, Step, micro);
                manual_seed(mix ^ 0x3c3c3c); // forward-pass randomness (dropout); recipes that use it run one slice
                SliceResult[] results;
                if (slices.Length == 1)
                    results = [RunSlice(slices[0], generator, mix, 1.0 / accumulate, (long)micro * setup.Options.Batch * comm.Size + rankOffset)];
                else
                {
                    // Slice i weighs its share of the samples, so the weighted losses sum to the batch's
                    // loss. Each slice masks with its own generator: the draws do not depend on timing.
                    results = new SliceResult[slices.Length];
                    var first = new long[slices.Length];
                    for (int i = 1; i < slices.Length; i++) first[i] = first[i - 1] + slices[i - 1].Samples.Count;
                    workers!.Run(slices.Length, i => results[i] = RunSlice(slices[i], sliceGenerators[i],
                        Mix(mix, i, 1), (double)slices[i].Samples.Count / count / accumulate, (long)micro * setup.Options.Batch * comm.Size + rankOffset + first[i]));
                }
                dataS += results.Max(r => r.Data);
                forwardS += results.Max(r => r.Forward);
                backwardS += results.Max(r => r.Backward);
                foreach (var r in results)
                {
                    finite &= double.IsFinite(r.Loss);
                    lossSum += r.Loss;
                }
            }
            finally { Release(slices); }
        }

        long tOpt = Stopwatch.GetTimestamp();
        double reduceS = 0;
        int ranks = comm.Size;
        if (ranks > 1)
        {
            // One small reduce agrees on what every rank decides alone: any non-finite loss skips the step on
            // all ranks, the loss is the mean over ranks, and a stop asked of any rank stops all after this step.
            var agreed = new[] { finite ? 0.0 : 1.0, finite ? lossSum : 0.0, ct.IsCancellationRequested ? 1.0 : 0.0 };
            comm.AllReduceSum(agreed);
            finite = agreed[0] == 0;
            lossSum = agreed[1] / ranks;
            stopAgreed = agreed[2] > 0;
            samples *= ranks;
        }
        double gradNorm = double.NaN;
        if (finite)
        {
            var grad = Optimizer.FlatGradient();
            double average = 1.0;
            if (ranks > 1)
            {
                // The gradient sum over ranks, then everything after it (norm, clipping, the non-finite
                // decision) on the same bits on every rank: the replicas stay identical.
                long tReduce = Stopwatch.GetTimestamp();
                if (!SkipGradientReduce) Collectives.AllReduceSum(comm, grad);
                reduceS = Stopwatch.GetElapsedTime(tReduce).TotalSeconds;
                average = 1.0 / ranks;
            }
            gradNorm = grad.norm().item<float>() * average;
            finite = double.IsFinite(gradNorm);
            if (finite)
            {
                double scale = setup.Options.ClipGrad > 0 && gradNorm > setup.Options.ClipGrad ? setup.Options.ClipGrad / (gradNorm + 1e-6) : 1.0;
                Optimizer.Step(grad, lr, scale * average, clearGradient: true); // averaging, clipping and zero_grad are folded into the update's single pass
            }
        }
        if (!finite) Optimizer.ZeroGrad();
        Step++;
        SamplesSeen += samples;
        if (finite) consecutiveNonFinite = 0;
        else
        {
            NonFiniteSteps++;
            if (++consecutiveNonFinite >= setup.Options.MaxNonFiniteSteps) throw new NonFiniteLossException(Step, consecutiveNonFinite);
        }
        double optimizerS = Stopwatch.GetElapsedTime(tOpt).TotalSeconds;
        double teacherS = 0;
        double? featureStd = null;
        foreach (var hook in hooks)
        {
            var notes = hook.AfterStep(new HookStep(Step, setup.Options.Steps, finite));
            teacherS += notes.TeacherSeconds;
            featureStd ??= notes.FeatureStd;
            CollapseWarning ??= notes.CollapseWarning;
        }
        double seconds = clock.Elapsed.TotalSeconds;
        return new StepReport(Step, finite ? lossSum : double.NaN, lr, gradNorm, !finite, samples / seconds, seconds)
        {
            Timings = new StepTimings(dataS, forwardS, backwardS, optimizerS) { AllReduce = reduceS, Teacher = teacherS },
            FeatureStd = featureStd, CollapseWarning = CollapseWarning,
        };
    }

    /// <summary>Named tensors of the whole training state.</summary>
    IEnumerable<(string, Tensor)> StateTensors()
    {
        foreach (var (name, t) in Model.state_dict()) yield return ("model." + name, t);
        yield return ("optimizer.exp_avg", Optimizer.ExpAvg);
        yield return ("optimizer.exp_avg_sq", Optimizer.ExpAvgSq);
        foreach (var hook in hooks)
            foreach (var (name, t) in hook.CheckpointTensors()) yield return ("hooks." + name, t);
    }

    public CheckpointState State(long skippedSamples) => new()
    {
        Step = Step, Seed = setup.Seed, OptimizerSteps = Optimizer.StepCount, SamplesSeen = SamplesSeen,
        NonFiniteSteps = NonFiniteSteps, SkippedSamples = skippedSamples, Recipe = setup.Recipe,
        Precision = Devices.Precision.Name(setup.Precision), Workers = Workers, WorldSize = comm.Size,
    };

    public void Save(string path, long skippedSamples) => Checkpoint.Save(path, State(skippedSamples), StateTensors());

    /// <summary>Restores model, optimizer, step and counters from a checkpoint written by <see cref="Save"/>.</summary>
    public CheckpointState Load(string path)
    {
        var (state, tensors) = Checkpoint.Load(path);
        try
        {
            if (state.Recipe != setup.Recipe) throw new CheckpointException(path, $"written by recipe {state.Recipe}, not {setup.Recipe}");
            int savedWorld = Math.Max(1, state.WorldSize); // 0: written before the world size was recorded, by one process
            if (savedWorld != comm.Size && !setup.AllowWorldSizeChange) throw new WorldSizeMismatchException(path, savedWorld, comm.Size, setup.Options.Batch);
            Checkpoint.Restore(path, tensors, StateTensors());
            foreach (var hook in hooks) hook.Restored(path);
            Step = state.Step;
            Optimizer.StepCount = state.OptimizerSteps;
            SamplesSeen = state.SamplesSeen;
            NonFiniteSteps = state.NonFiniteSteps;
            // The slicing decides the mask draws: a resume keeps the run's, even where automatic would pick another.
            if (state.Workers is 1 or 2 && state.Workers != Workers && setup.Options.Workers == 0 && (state.Workers == 1 || CanSplit(setup)))
                Workers = state.Workers;
            return state;
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    /// <summary>
    /// The negative control of the data-parallel test: <c>MASKWORK_DIST_NEGATIVE_CONTROL=skip-gradient-reduce</c>
    /// leaves each rank with its own gradient, so the replicas must drift apart and the test must fail.
    /// </summary>
    static readonly bool SkipGradientReduce = Environment.GetEnvironmentVariable("MASKWORK_DIST_NEGATIVE_CONTROL") == "skip-gradient-reduce";

    public void Dispose()
    {
        Optimizer.Dispose();
        generator.Dispose();
        foreach (var g in sliceGenerators) g.Dispose();
    }
}
