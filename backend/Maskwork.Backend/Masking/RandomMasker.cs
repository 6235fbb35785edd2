using Maskwork.Abstractions;
using static TorchSharp.torch;

namespace Maskwork.Backend.Masking;

/// <summary>How many tokens stay visible: MAE's int(N·(1−ratio)), at least one.</summary>
public static class MaskBudget
{
    public static int Visible(long tokens, double ratio)
    {
        if (ratio is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(ratio), ratio, "mask ratio must be in [0, 1)");
        return Math.Max(1, (int)(tokens * (1 - ratio)));
    }

    /// <summary>The visible count at the context's step for a scheduled ratio.</summary>
    public static int Visible(long tokens, MaskRatio ratio, MaskContext context) => Visible(tokens, ratio.At(context.Step, context.TotalSteps));

    /// <summary>Splits a per-token score [B,N] into plan: the lowest <paramref name="visible"/> scores stay visible.</summary>
    public static MaskPlan FromScores(Tensor scores, int visible)
    {
        var order = scores.argsort(1);
        long n = scores.shape[1];
        return new MaskPlan(order[.., ..visible], order[.., visible..(int)n]);
    }
}

/// <summary>MAE's random masking: argsort of per-sample uniform noise, exactly the same count in every sample. Works on any layout.</summary>
public sealed class RandomMasker : IMasker
{
    public RandomMasker(double ratio) : this(new MaskRatio(ratio)) { }

    /// <summary>Random masking whose ratio follows a schedule over the run.</summary>
    public RandomMasker(MaskRatio schedule) => Schedule = schedule;

    /// <summary>The ratio at step 0.</summary>
    public double Ratio => Schedule.Start;

    /// <summary>The ratio over the run.</summary>
    public MaskRatio Schedule { get; }

    public MaskPlan Plan(TokenBatch tokens, MaskContext context)
    {
        long n = tokens.TokenCount;
        var noise = MaskRandom.For(tokens, context).Uniform(0, n);
        return MaskBudget.FromScores(noise, MaskBudget.Visible(n, Schedule, context));
    }
}
