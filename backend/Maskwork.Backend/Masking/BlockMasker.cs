using Maskwork.Abstractions;
using Maskwork.Backend.Nn;
using static TorchSharp.torch;

namespace Maskwork.Backend.Masking;

/// <summary>
/// Block-wise masking on a grid of any rank, fully in tensor ops. BEiT-style by default: each sample
/// draws <c>blocks</c> random boxes (volume log-uniform between <paramref name="minBlock"/> and
/// <paramref name="maxBlockFraction"/>·N, aspect ratio log-uniform in [<see cref="Aspect"/>, 1/<see cref="Aspect"/>]
/// per axis pair); with <see cref="CubeSide"/> k &gt; 0 every box is NeRF-MAE's k×…×k cube of tokens.
/// Tokens are ranked by the first box that covers them (random order inside a box), so the masked set
/// is the union of the earliest boxes, cut to exactly the budget. Per-sample draws (<see cref="MaskRandom"/>).
/// </summary>
public sealed class BlockMasker(double ratio, int minBlock = 4, double maxBlockFraction = 0.4, int blocks = 24) : IMasker
{
    public double Ratio { get; } = ratio;

    /// <summary>The ratio over the run; defaults to the constant <see cref="Ratio"/>.</summary>
    public MaskRatio Schedule { get; init; } = ratio;

    /// <summary>Smallest aspect ratio of a box (BEiT: 0.3); 1 draws squares/cubes of random size.</summary>
    public double Aspect { get; init; } = 0.3;

    /// <summary>Side of fixed cubic blocks in tokens (NeRF-MAE); 0 = BEiT's random boxes.</summary>
    public int CubeSide { get; init; }

    public MaskPlan Plan(TokenBatch tokens, MaskContext context)
    {
        if (tokens.Layout is not GridLayout grid)
            throw new NotSupportedException($"block masking needs a grid layout, got {tokens.Layout}");
        if (Aspect is <= 0 or > 1) throw new ArgumentOutOfRangeException(nameof(Aspect), Aspect, "block aspect must be in (0, 1]");
        long b = tokens.BatchSize, n = tokens.TokenCount;
        int axes = grid.Dims.Length;
        var r = MaskRandom.For(tokens, context);
        int visible = MaskBudget.Visible(n, Schedule, context);
        // Enough boxes to cover the budget even with the smallest ones.
        int count = CubeSide > 0 ? (int)Math.Max(blocks, Math.Ceiling((double)n / Math.Pow(CubeSide, axes)) * 2) : blocks;

        using var k = new HeldScalars();
        var dev = tokens.Tokens.device;
        var dimsT = tensor(grid.Dims.Select(d => (float)d).ToArray(), device: dev);
        Tensor size;
        if (CubeSide > 0) size = minimum(full(new long[] { b, count, axes }, k[CubeSide], dtype: ScalarType.Float32, device: dev), dimsT);
        else
        {
            double maxVolume = Math.Max(minBlock, maxBlockFraction * n);
            var volume = exp(r.Uniform(0, count).mul(k[Math.Log(maxVolume) - Math.Log(minBlock)]).add(k[Math.Log(minBlock)], Held.One));
            var logAspect = r.Uniform(1, count, axes).mul(k[2]).sub(k[1]).mul(k[Math.Log(1 / Aspect)]).div(k[2]);
            logAspect = logAspect - logAspect.mean([-1L], keepdim: true);
            size = pow(volume.unsqueeze(-1), k[1.0 / axes]).mul(exp(logAspect)).round().clamp_min(k[1]);
            size = minimum(size, dimsT);
        }
        var start = r.Uniform(2, count, axes).mul((dimsT - size).add(k[1], Held.One)).floor();

        // Coordinates of every token [N, axes], then coverage [B, blocks, N].
        var coords = stack(meshgrid(grid.Dims.Select(d => arange(d, dtype: ScalarType.Float32, device: dev)).ToArray(), indexing: "ij")
            .Select(c => c.reshape(-1)).ToArray(), 1);
        var c = coords.reshape(1, 1, n, axes);
        var inside = (c >= start.unsqueeze(2)).logical_and(c < start.Plus(size).unsqueeze(2)).all(-1);

        // Rank of the first covering box (count when none), random tie-break within a box.
        var order = arange(count, dtype: ScalarType.Float32, device: dev).reshape(1, count, 1);
        var first = where(inside, order, tensor((float)count, device: dev)).amin([1L]);
        var score = first.Plus(r.Uniform(3, n).mul(k[0.5]));
        // Lowest scores are masked here, so invert before the shared split (which keeps lowest visible).
        return MaskBudget.FromScores(-score, visible);
    }
}
