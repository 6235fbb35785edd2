using System.Diagnostics;
using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using TorchSharp;
using static TorchSharp.torch;
using TorchDevice = TorchSharp.torch.Device;

namespace Maskwork.Backend.Training;

/// <summary>Everything the trainer needs besides data.</summary>
public sealed record TrainerSetup(string Recipe, ModelParts Parts, TrainOptions Options, long Seed, TorchDevice Device, ScalarType Precision);

/// <summary>What one optimizer step did.</summary>
public sealed record StepReport(long Step, double Loss, double Lr, double GradNorm, bool Skipped, double SamplesPerSecond, double Seconds);

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
    readonly SampleSet data;
    readonly BatchOrder order;
    readonly LrSchedule schedule;
    readonly Generator generator = new(0);
    int consecutiveNonFinite;

    public Trainer(TrainerSetup setup, SampleSet data)
    {
        this.setup = setup;
        this.data = data;
        Model = new MaskedModel(setup.Parts);
        Model.to(setup.Device);
        Model.train();
        Optimizer = new FlatAdamW(
            Model.named_parameters().Select(p => new OptimizedParameter(p.name, p.parameter,
                setup.Options.WeightDecayMode == WeightDecayMode.L2 || MaskedModel.Decays(p.name, p.parameter))).ToList(),
            setup.Options.Beta1, setup.Options.Beta2, setup.Options.WeightDecay, mode: setup.Options.WeightDecayMode);
        order = new BatchOrder(data.Count, setup.Options.Batch, setup.Seed);
        schedule = LrSchedule.From(setup.Options);
    }

    public MaskedModel Model { get; }
    public FlatAdamW Optimizer { get; }
    public TrainOptions Options => setup.Options;
    public long Step { get; private set; }
    public long NonFiniteSteps { get; private set; }
    public long SamplesSeen { get; private set; }

    /// <summary>Seconds the loop waited for data since construction.</summary>
    public double DataWaitSeconds { get; private set; }

    static long Mix(long seed, long step, long micro) => HashCode.Combine(seed, step, micro) & 0x7fffffffL;

    /// <summary>Trains until <paramref name="untilStep"/> steps are done, the token is cancelled, or the loss diverges.</summary>
    public void Run(long untilStep, CancellationToken ct, Action<StepReport>? onStep = null, Action<Trainer>? onCheckpoint = null)
    {
        int accumulate = Math.Max(1, setup.Options.Accumulate);
        using var prefetch = new BatchPrefetcher<IReadOnlyList<Sample>>(k => data.Batch(order, k), Step * accumulate);
        try
        {
            while (Step < untilStep && !ct.IsCancellationRequested)
            {
                var report = TrainStep(prefetch, accumulate);
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

    StepReport TrainStep(BatchPrefetcher<IReadOnlyList<Sample>> prefetch, int accumulate)
    {
        var clock = Stopwatch.StartNew();
        using var scope = NewDisposeScope();
        using var precision = Devices.Precision.Use(setup.Precision);
        double lr = schedule.At(Step);
        double lossSum = 0;
        bool finite = true;
        int samples = 0;
        for (int micro = 0; micro < accumulate; micro++)
        {
            var batch = prefetch.Next();
            samples += batch.Count;
            long mix = Mix(setup.Seed, Step, micro);
            generator.manual_seed(mix);
            manual_seed(mix ^ 0x3c3c3c);
            var tokens = setup.Parts.Tokenizer.Tokenize(batch, setup.Device);
            var plan = setup.Parts.Masker.Plan(tokens, new MaskContext(Step, generator));
            var result = Model.Forward(tokens, plan);
            var loss = result.Loss / accumulate;
            double value = loss.item<float>();
            if (!double.IsFinite(value)) { finite = false; break; }
            lossSum += value;
            loss.backward();
        }

        double gradNorm = double.NaN;
        if (finite)
        {
            var grad = Optimizer.FlatGradient();
            gradNorm = grad.norm().item<float>();
            finite = double.IsFinite(gradNorm);
            if (finite)
            {
                if (setup.Options.ClipGrad > 0 && gradNorm > setup.Options.ClipGrad) grad.mul_(setup.Options.ClipGrad / (gradNorm + 1e-6));
                Optimizer.Step(grad, lr);
            }
        }
        Optimizer.ZeroGrad();
        Step++;
        SamplesSeen += samples;
        if (finite) consecutiveNonFinite = 0;
        else
        {
            NonFiniteSteps++;
            if (++consecutiveNonFinite >= setup.Options.MaxNonFiniteSteps) throw new NonFiniteLossException(Step, consecutiveNonFinite);
        }
        double seconds = clock.Elapsed.TotalSeconds;
        return new StepReport(Step, finite ? lossSum : double.NaN, lr, gradNorm, !finite, samples / seconds, seconds);
    }

    /// <summary>Named tensors of the whole training state.</summary>
    IEnumerable<(string, Tensor)> StateTensors()
    {
        foreach (var (name, t) in Model.state_dict()) yield return ("model." + name, t);
        yield return ("optimizer.exp_avg", Optimizer.ExpAvg);
        yield return ("optimizer.exp_avg_sq", Optimizer.ExpAvgSq);
    }

    public CheckpointState State(long skippedSamples) => new()
    {
        Step = Step, Seed = setup.Seed, OptimizerSteps = Optimizer.StepCount, SamplesSeen = SamplesSeen,
        NonFiniteSteps = NonFiniteSteps, SkippedSamples = skippedSamples, Recipe = setup.Recipe,
        Precision = Devices.Precision.Name(setup.Precision),
    };

    public void Save(string path, long skippedSamples) => Checkpoint.Save(path, State(skippedSamples), StateTensors());

    /// <summary>Restores model, optimizer, step and counters from a checkpoint written by <see cref="Save"/>.</summary>
    public CheckpointState Load(string path)
    {
        var (state, tensors) = Checkpoint.Load(path);
        try
        {
            if (state.Recipe != setup.Recipe) throw new CheckpointException(path, $"written by recipe {state.Recipe}, not {setup.Recipe}");
            Checkpoint.Restore(path, tensors, StateTensors());
            Step = state.Step;
            Optimizer.StepCount = state.OptimizerSteps;
            SamplesSeen = state.SamplesSeen;
            NonFiniteSteps = state.NonFiniteSteps;
            return state;
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    public void Dispose()
    {
        Optimizer.Dispose();
        generator.Dispose();
    }
}
