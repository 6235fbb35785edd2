using Maskwork.Abstractions;
using Maskwork.Backend.Nn;
using static TorchSharp.torch;

namespace Maskwork.Backend.Masking;

/// <summary>Which guided tokens to hide. JSON: <c>"hardest"</c>, <c>"easiest"</c>.</summary>
public enum GuidedHide
{
    /// <summary>The highest-scored tokens (Hard Patches Mining: the largest predicted loss).</summary>
    Hardest,

    /// <summary>The lowest-scored tokens.</summary>
    Easiest,
}

/// <summary>
/// Masks by a per-token score in <see cref="MaskContext.Guidance"/> (a predicted loss, a teacher's saliency).
/// A fraction of the masked tokens (<see cref="Fraction"/> at the step; HPM's easy-to-hard schedule raises it
/// from 0 to 0.5) is chosen by score: with per-sample standardised scores s, the top of s/τ + Gumbel noise
/// (sampling without replacement ∝ softmax(s/τ); τ → 0 hides exactly the top-scored tokens); the rest of the
/// budget is random among the others. Refuses a context without guidance.
/// </summary>
public sealed class GuidedMasker(MaskRatio ratio, GuidedHide hide, double temperature) : IMasker
{
    public MaskRatio Schedule { get; } = ratio;
    public GuidedHide Hide { get; } = hide;
    public double Temperature { get; } = temperature >= 0 ? temperature : throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "guided temperature must be ≥ 0");

    /// <summary>The share of the masked tokens chosen by guidance, over the run (1 = all of them).</summary>
    public MaskRatio Fraction { get; init; } = 1.0;

    public MaskPlan Plan(TokenBatch tokens, MaskContext context)
    {
        var g = context.Guidance ?? throw new InvalidOperationException(
            "guided masking needs a per-token score in MaskContext.Guidance [B,N], and none was given: use a recipe whose objective provides it (image/hpm predicts each patch's loss) or another masker (model.masker=random).");
        long b = tokens.BatchSize, n = tokens.TokenCount;
        if (g.shape.Length != 2 || g.shape[0] != b || g.shape[1] != n)
            throw new ArgumentException($"guidance has shape [{string.Join(',', g.shape)}], expected [{b},{n}]");
        int visible = MaskBudget.Visible(n, Schedule, context);
        long masked = n - visible;
        double fraction = Math.Clamp(Fraction.At(context.Step, context.TotalSteps), 0, 1);
        long guided = (long)(masked * fraction);
        var r = MaskRandom.For(tokens, context);
        using var k = new HeldScalars();

        var s = g.detach().to_type(ScalarType.Float32).to(tokens.Tokens.device);
        if (Hide == GuidedHide.Easiest) s = s.neg();
        var std = s.std(1, keepdim: true).clamp_min(k[1e-6]);
        s = (s - s.mean([1L], keepdim: true)) / std;
        if (Temperature > 0)
        {
            var gumbel = r.Uniform(0, n).clamp_min(k[1e-7]).log().neg().log().neg();
            s = s.div(k[Temperature]).add(gumbel, Held.One);
        }
        // Priority: guided picks first (≥ 2), then uniform random (< 1); the highest `masked` are hidden.
        var priority = r.Uniform(1, n);
        if (guided > 0)
        {
            var top = s.topk((int)guided, dim: 1).indexes;
            priority = priority.scatter(1, top, full(top.shape, k[2.0], dtype: ScalarType.Float32, device: priority.device));
        }
        return MaskBudget.FromScores(priority, visible);
    }
}
