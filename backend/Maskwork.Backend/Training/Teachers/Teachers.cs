using System.Diagnostics;
using Maskwork.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace Maskwork.Backend.Training;

/// <summary>
/// A teacher (DESIGN.md section 3): an encoder that is never trained by the optimizer, run without gradients on the
/// full (unmasked) input, whose features become an objective's targets. Its parameters do not require gradients
/// and it is not a submodule of the trained model, so the optimizer never sees it.
/// </summary>
public abstract class FeatureTeacher
{
    // Ticks in Targets per calling thread: slices of a batch run it in parallel, so the step's share is the busiest thread's.
    readonly System.Collections.Concurrent.ConcurrentDictionary<int, long> forwardTicks = new();

    protected FeatureTeacher(LayeredVitEncoder encoder)
    {
        Encoder = encoder;
        foreach (var (_, p) in encoder.named_parameters()) p.requires_grad_(false);
        encoder.eval();
    }

    /// <summary>The teacher's encoder.</summary>
    public LayeredVitEncoder Encoder { get; }

    /// <summary>Its width (the targets' feature size).</summary>
    public int Dim => Encoder.Dim;

    /// <summary>Moves the teacher to the training device (the recipe calls it: the trainer moves only the trained model).</summary>
    public FeatureTeacher To(Device device)
    {
        Encoder.to(device);
        return this;
    }

    /// <summary>
    /// The targets [B,N,D] of every token of <paramref name="tokens"/>: the teacher sees the whole input, without
    /// gradients, in the run's precision. Thread-safe (slices of a batch call it in parallel).
    /// </summary>
    public Tensor Targets(TokenBatch tokens, TargetSpec spec)
    {
        long t0 = Stopwatch.GetTimestamp();
        using var _ = no_grad();
        var all = MaskPlan.None(tokens.BatchSize, tokens.TokenCount, tokens.Tokens.device);
        var (final, blocks) = Encoder.Layers(tokens, all, spec.NeedsBlocks);
        var targets = FeatureTargets.Build(final, blocks, spec).detach();
        long ticks = Stopwatch.GetTimestamp() - t0;
        forwardTicks.AddOrUpdate(Environment.CurrentManagedThreadId, ticks, (_, sum) => sum + ticks);
        return targets;
    }

    /// <summary>Seconds spent in <see cref="Targets"/> since the last call by the busiest thread (the wall time when slices run in parallel).</summary>
    public double TakeForwardSeconds()
    {
        long most = 0;
        foreach (var key in forwardTicks.Keys)
            if (forwardTicks.TryRemove(key, out long t)) most = Math.Max(most, t);
        return most / (double)Stopwatch.Frequency;
    }

    /// <summary>Tensors a checkpoint must hold for a resume to retrace the run (the EMA weights; a frozen teacher's checksum).</summary>
    public abstract IEnumerable<(string Name, Tensor Value)> CheckpointTensors();

    /// <summary>Checks restored checkpoint tensors (see <see cref="ITrainingHooks.Restored"/>).</summary>
    public virtual void Restored(string checkpointPath) { }
}

/// <summary>How the EMA momentum moves from <paramref name="Start"/> to <paramref name="End"/> over the run (BYOL, data2vec, I-JEPA).</summary>
/// <param name="Shape">cosine (BYOL: 1 − (1 − m₀)(cos(πk/K) + 1)/2), linear (data2vec, I-JEPA) or constant.</param>
public sealed record EmaSchedule(double Start = 0.996, double End = 1.0, string Shape = "cosine")
{
    /// <summary>The momentum of the update after step <paramref name="step"/> (1-based) of <paramref name="total"/>.</summary>
    public double At(long step, long total)
    {
        double f = total <= 1 ? 1 : Math.Clamp((step - 1) / (double)(total - 1), 0, 1);
        return Shape switch
        {
            "constant" => Start,
            "linear" => Start + (End - Start) * f,
            "cosine" => End - (End - Start) * (Math.Cos(Math.PI * f) + 1) / 2,
            _ => throw new ArgumentException($"unknown EMA schedule '{Shape}': use cosine, linear or constant"),
        };
    }

    /// <summary>Refuses momenta outside [0, 1] and unknown shapes.</summary>
    public EmaSchedule Checked()
    {
        if (Start is < 0 or > 1 || End is < 0 or > 1) throw new ArgumentException($"EMA momentum must be in [0, 1]: start {Start}, end {End}");
        _ = At(1, 2);
        return this;
    }
}

/// <summary>
/// An exponential moving average of the student encoder: starts as an exact copy, and after every applied optimizer
/// step θ_t ← m·θ_t + (1 − m)·θ_s with m from <see cref="Schedule"/>. Its weights are part of the checkpoint.
/// </summary>
public sealed class EmaTeacher : FeatureTeacher
{
    readonly LayeredVitEncoder student;

    /// <param name="student">The encoder being trained.</param>
    /// <param name="copy">A fresh encoder of the same shape, which becomes the teacher (its weights are overwritten by the student's).</param>
    public EmaTeacher(LayeredVitEncoder student, LayeredVitEncoder copy, EmaSchedule schedule) : base(copy)
    {
        if (student.Shape != copy.Shape || student.TokenDim != copy.TokenDim)
            throw new ArgumentException($"the EMA copy must have the student's shape: {copy.Shape} vs {student.Shape}");
        this.student = student;
        Schedule = schedule.Checked();
        using var _ = no_grad();
        foreach (var (t, s) in Pairs()) t.copy_(s);
    }

    public EmaSchedule Schedule { get; }

    /// <summary>The momentum used by the last update (NaN before the first).</summary>
    public double LastMomentum { get; private set; } = double.NaN;

    /// <summary>Teacher and student tensors (parameters, then buffers) in matching order. Looked up each time: moving a module may replace them.</summary>
    IEnumerable<(Tensor Teacher, Tensor Student)> Pairs()
    {
        var s = student.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        foreach (var (name, t) in Encoder.named_parameters()) yield return (t, s[name]);
        var sb = student.named_buffers().ToDictionary(b => b.name, b => b.buffer);
        foreach (var (name, t) in Encoder.named_buffers()) yield return (t, sb[name]);
    }

    /// <summary>θ_t ← m·θ_t + (1 − m)·θ_s for every tensor.</summary>
    public void Update(double momentum)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using var m = momentum.ToScalar();
        using var rest = (1 - momentum).ToScalar();
        foreach (var (t, s) in Pairs()) t.mul_(m).add_(s.detach(), rest);
        LastMomentum = momentum;
    }

    /// <summary>The update after step <paramref name="step"/> of <paramref name="total"/>.</summary>
    public void Update(long step, long total) => Update(Schedule.At(step, total));

    public override IEnumerable<(string Name, Tensor Value)> CheckpointTensors()
    {
        foreach (var (name, p) in Encoder.named_parameters()) yield return ("ema_teacher." + name, p);
        foreach (var (name, b) in Encoder.named_buffers()) yield return ("ema_teacher." + name, b);
    }
}
