namespace Maskwork.Backend.Masking;

/// <summary>How a mask ratio moves from its start to its end over the run. JSON: <c>"constant"</c>, <c>"linear"</c>, <c>"cosine"</c>.</summary>
public enum MaskSchedule
{
    /// <summary>The start ratio throughout.</summary>
    Constant,

    /// <summary>Straight from start to end over the run (LMD-style progressive masking when end &gt; start).</summary>
    Linear,

    /// <summary>Half a cosine from start to end: slow at both ends.</summary>
    Cosine,
}

/// <summary>
/// A mask ratio as a function of the step: <see cref="Start"/> at step 0, <see cref="End"/> at the run's last
/// step, following <see cref="Schedule"/>. A plain number converts to a constant ratio.
/// </summary>
public sealed record MaskRatio(double Start, double? End = null, MaskSchedule Schedule = MaskSchedule.Constant)
{
    /// <summary>The ratio at <paramref name="step"/> of a run of <paramref name="totalSteps"/> steps (0 = unknown: the start).</summary>
    public double At(long step, long totalSteps)
    {
        double end = End ?? Start;
        if (Schedule == MaskSchedule.Constant || totalSteps <= 1 || end == Start) return Start;
        double t = Math.Clamp((double)step / (totalSteps - 1), 0, 1);
        double f = Schedule == MaskSchedule.Linear ? t : (1 - Math.Cos(Math.PI * t)) / 2;
        return Start + (end - Start) * f;
    }

    /// <summary>A constant ratio.</summary>
    public static implicit operator MaskRatio(double ratio) => new(ratio);
}
