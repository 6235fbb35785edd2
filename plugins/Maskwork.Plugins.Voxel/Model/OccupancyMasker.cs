using Maskwork.Abstractions;
using Maskwork.Backend.Masking;
using Maskwork.Backend.Nn;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Voxel.Model;

/// <summary>
/// Occupancy-aware masking (after DiT-3D / FastDiT-3D, which hide empty space at much higher ratios than the shape):
/// exactly <c>int(N·(1 − ratio))</c> tokens stay visible in every sample, so the plan stays dense, drawn without
/// replacement with weight <see cref="OccupiedWeight"/> for a patch holding any occupied voxel and 1 for an empty one
/// (Efraimidis–Spirakis: keep the smallest −ln(u)/w). A sample with fewer occupied patches than the visible budget
/// shows them all plus random empty ones. Per-sample numbers come from <see cref="MaskRandom"/> (seed, step, sample key).
/// </summary>
/// <param name="threshold">A token is occupied when any of its values (tokenizer units, channel <paramref name="channel"/> of <paramref name="channels"/>) is above this.</param>
public sealed class OccupancyMasker(MaskRatio ratio, double occupiedWeight, float threshold, int channels = 1, int channel = 0) : IMasker
{
    public double OccupiedWeight => occupiedWeight;
    public MaskRatio Ratio => ratio;

    /// <summary>Per token [B, N]: true when the patch holds an occupied voxel.</summary>
    public Tensor Occupied(TokenBatch tokens)
    {
        var t = tokens.Tokens;
        if (channels > 1) t = t.view(t.shape[0], t.shape[1], -1, channels).select(-1, channel);
        using var k = new HeldScalars();   // held: masks are drawn beside the training threads (see Held)
        return t.amax(-1).gt(k[threshold]);
    }

    public MaskPlan Plan(TokenBatch tokens, MaskContext context)
    {
        using var scope = NewDisposeScope();
        long n = tokens.TokenCount;
        using var k = new HeldScalars();
        var u = MaskRandom.For(tokens, context).Uniform(0, n).clamp_min(k[1e-7]);
        var weight = where(Occupied(tokens), tensor((float)occupiedWeight, device: u.device), tensor(1f, device: u.device));
        var score = u.log().neg().div(weight);
        var plan = MaskBudget.FromScores(score, MaskBudget.Visible(n, ratio, context));
        return new MaskPlan(plan.Visible.MoveToOuterDisposeScope(), plan.Masked.MoveToOuterDisposeScope());
    }
}
