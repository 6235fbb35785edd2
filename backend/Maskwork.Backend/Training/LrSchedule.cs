using Maskwork.Abstractions;

namespace Maskwork.Backend.Training;

/// <summary>MAE's schedule: lr = blr · effective batch / 256, linear warm-up, then half-cosine to the floor.</summary>
public sealed record LrSchedule(double PeakLr, int WarmupSteps, int TotalSteps, double MinLr)
{
    public static LrSchedule From(TrainOptions o) =>
        new(o.Lr ?? o.BaseLr * o.Batch * o.Accumulate / 256.0, o.WarmupSteps, o.Steps, o.MinLr);

    /// <summary>Learning rate of 0-based step <paramref name="step"/>.</summary>
    public double At(long step)
    {
        if (step < WarmupSteps) return PeakLr * (step + 1) / WarmupSteps;
        double span = Math.Max(1, TotalSteps - WarmupSteps);
        double progress = Math.Min(1.0, (step - WarmupSteps) / span);
        return MinLr + (PeakLr - MinLr) * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }
}
