using Maskwork.Abstractions;
using Maskwork.Backend.Nn;
using static TorchSharp.torch;

namespace Maskwork.Backend.Masking;

/// <summary>
/// VideoMAE V2's running-cell mask, meant for the decoder (<see cref="DecoderMasked"/>): the two innermost
/// spatial axes are cut into 2×2 cells; in time slice t the cell position p (0..3, in cyclic order
/// (0,0),(0,1),(1,1),(1,0)) is kept when (p − t − phase) mod 4 &lt; keep, with keep = 4·(1 − ratio) and a
/// per-sample phase. So every cell keeps exactly <c>keep</c> of its 4 tokens in every slice, and every position
/// is kept in <c>keep</c> of every 4 consecutive slices. Ratios 0.25, 0.5, 0.75 on grids with a time axis
/// and even spatial sides. Visible = kept.
/// </summary>
public sealed class RunningCellMasker : IMasker
{
    public RunningCellMasker(double ratio)
    {
        if (ratio is not (0.25 or 0.5 or 0.75)) throw new ArgumentOutOfRangeException(nameof(ratio), ratio, "running-cell ratio must be 0.25, 0.5 or 0.75 (whole tokens of a 2×2 cell)");
        Ratio = ratio;
    }

    public double Ratio { get; }

    public MaskPlan Plan(TokenBatch tokens, MaskContext context)
    {
        if (tokens.Layout is not GridLayout grid || grid.TimeAxis < 0 || grid.Dims.Length < 3)
            throw new NotSupportedException($"running-cell masking needs a grid with a time axis and two spatial axes (\"t,y,x\"), got {tokens.Layout}");
        int ta = grid.TimeAxis, rank = grid.Dims.Length;
        var spatial = Enumerable.Range(0, rank).Where(i => i != ta).ToArray();
        int ay = spatial[^2], ax = spatial[^1];
        if (grid.Dims[ay] % 2 != 0 || grid.Dims[ax] % 2 != 0)
            throw new NotSupportedException($"running-cell masking needs even spatial sides, got {grid}");
        var dev = tokens.Tokens.device;
        long b = tokens.BatchSize, n = grid.Count;
        int keep = (int)Math.Round(4 * (1 - Ratio));

        using var k = new HeldScalars();
        var coords = meshgrid(grid.Dims.Select(d => arange(d, dtype: ScalarType.Int64, device: dev)).ToArray(), indexing: "ij").Select(c => c.reshape(-1)).ToArray();
        var yy = coords[ay].remainder(k.Int(2)); var xx = coords[ax].remainder(k.Int(2));
        // Cyclic position in the cell: (0,0)→0, (0,1)→1, (1,1)→2, (1,0)→3.
        var p = yy.mul(k.Int(2)).add(yy.bitwise_xor(xx), Held.One);
        var phase = MaskRandom.For(tokens, context).Bits(0, 1).remainder(k.Int(4)); // [B,1]
        var slot = (p.view(1, -1) - coords[ta].view(1, -1) - phase).remainder(k.Int(4)); // [B,N], in 0..3
        var kept = slot.lt(k.Int(keep));
        // Exactly keep/4 of the tokens: sort kept first, by index.
        var order = kept.logical_not().to_type(ScalarType.Int64).mul(k.Int(n)).add(arange(n, dtype: ScalarType.Int64, device: dev).view(1, -1), Held.One).argsort(1);
        long visible = n * keep / 4;
        return new MaskPlan(order[.., ..(int)visible], order[.., (int)visible..(int)n]);
    }
}

/// <summary>
/// An encoder mask with a decoder mask on top (VideoMAE V2 dual masking): <see cref="Encoder"/>'s plan, with
/// <see cref="MaskPlan.DecoderTargets"/> = the tokens <see cref="Decoder"/> keeps visible. The objective then
/// scores only tokens the encoder masked and the decoder kept.
/// </summary>
public sealed class DecoderMasked(IMasker encoder, IMasker decoder) : IMasker
{
    public IMasker Encoder { get; } = encoder;
    public IMasker Decoder { get; } = decoder;

    public MaskPlan Plan(TokenBatch tokens, MaskContext context) =>
        // The decoder's draws come from another seed, so they are independent of the encoder's.
        Encoder.Plan(tokens, context) with { DecoderTargets = Decoder.Plan(tokens, context with { Seed = Data.SeedMix.Of(context.Seed, 0x5dec0de) }).Visible };
}
