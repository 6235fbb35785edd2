using Maskwork.Abstractions;
using static TorchSharp.torch;

namespace Maskwork.Backend.Masking;

/// <summary>
/// VideoMAE's tube masking: one spatial mask, drawn by <see cref="Spatial"/> (random, block, noise…) on the
/// grid without its time axis, repeated over every time slice, so each slice hides exactly the same count.
/// Needs a grid with a time axis (<see cref="GridLayout.Axes"/> containing <c>t</c>).
/// </summary>
public sealed class TubeMasker(IMasker spatial) : IMasker
{
    /// <summary>The masker of one time slice.</summary>
    public IMasker Spatial { get; } = spatial;

    public MaskPlan Plan(TokenBatch tokens, MaskContext context)
    {
        if (tokens.Layout is not GridLayout grid || grid.TimeAxis < 0)
            throw new NotSupportedException($"tube masking needs a grid with a time axis (axes like \"t,y,x\"), got {tokens.Layout}");
        int ta = grid.TimeAxis;
        var dev = tokens.Tokens.device;
        var spaceDims = grid.Dims.Where((_, i) => i != ta).ToArray();
        var spaceAxes = string.Join(',', grid.AxisNames.Where((_, i) => i != ta));
        long t = grid.Dims[ta], s = spaceDims.Aggregate(1L, (a, d) => a * d);
        var slice = new TokenBatch(empty(new long[] { tokens.BatchSize, s, 0 }, device: dev), new GridLayout(spaceDims) { Axes = spaceAxes }) { SampleKeys = tokens.SampleKeys };
        var plan = Spatial.Plan(slice, context);
        // flat[t, s]: the row-major index of spatial token s in time slice t, wherever the time axis is.
        var flat = arange(grid.Count, dtype: ScalarType.Int64, device: dev).view(grid.Dims.Select(d => (long)d).ToArray()).movedim([ta], [0L]).reshape(t, s);
        return new MaskPlan(Expand(flat, plan.Visible), Expand(flat, plan.Masked));
    }

    /// <summary>Spatial indices [B,K] → the same positions in every slice [B, T·K], slice by slice.</summary>
    static Tensor Expand(Tensor flat, Tensor spatial)
    {
        long b = spatial.shape[0], k = spatial.shape[1], t = flat.shape[0];
        if (k == 0) return empty(b, 0, dtype: ScalarType.Int64, device: spatial.device);
        return flat.index_select(1, spatial.reshape(-1)).view(t, b, k).permute(1, 0, 2).reshape(b, t * k);
    }
}
