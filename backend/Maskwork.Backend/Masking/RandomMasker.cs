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

    /// <summary>Splits a per-token score [B,N] into plan: the lowest <paramref name="visible"/> scores stay visible.</summary>
    public static MaskPlan FromScores(Tensor scores, int visible)
    {
        var order = scores.argsort(1);
        long n = scores.shape[1];
        return new MaskPlan(order[.., ..visible], order[.., visible..(int)n]);
    }
}

/// <summary>MAE's random masking: argsort of uniform noise, exactly the same count in every sample. Works on any layout.</summary>
public sealed class RandomMasker(double ratio) : IMasker
{
    public double Ratio { get; } = ratio;

    public MaskPlan Plan(TokenBatch tokens, MaskContext context)
    {
        long b = tokens.BatchSize, n = tokens.TokenCount;
        var noise = rand(b, n, generator: context.Generator).to(tokens.Tokens.device);
        return MaskBudget.FromScores(noise, MaskBudget.Visible(n, Ratio));
    }
}
