using Maskwork.Abstractions;
using Maskwork.Backend.Nn;
using static TorchSharp.torch;

namespace Maskwork.Backend.Masking;

/// <summary>
/// BEiT-style block-wise masking on a grid of any rank, fully in tensor ops: each sample draws
/// <c>blocks</c> random boxes (volume log-uniform-ish between <paramref name="minBlock"/> and
/// <paramref name="maxBlockFraction"/>·N, aspect ratio log-uniform in [0.3, 1/0.3] per axis pair);
/// tokens are ranked by the first box that covers them (random order inside a box), so the masked
/// set is the union of the earliest boxes, cut to exactly the budget.
/// </summary>
public sealed class BlockMasker(double ratio, int minBlock = 4, double maxBlockFraction = 0.4, int blocks = 24) : IMasker
{
    public double Ratio { get; } = ratio;

    public MaskPlan Plan(TokenBatch tokens, MaskContext context)
    {
        if (tokens.Layout is not GridLayout grid)
            throw new NotSupportedException($"block masking needs a grid layout, got {tokens.Layout}");
        long b = tokens.BatchSize, n = tokens.TokenCount;
        int axes = grid.Dims.Length;
        var g = context.Generator;

        // Box volume and per-axis shape. (Held scalars: this runs on slice workers beside other threads.)
        using var k = new HeldScalars();
        double maxVolume = Math.Max(minBlock, maxBlockFraction * n);
        var volume = exp(rand(b, blocks, generator: g).mul(k[Math.Log(maxVolume) - Math.Log(minBlock)]).add(k[Math.Log(minBlock)], Held.One));
        var logAspect = rand(b, blocks, axes, generator: g).mul(k[2]).sub(k[1]).mul(k[Math.Log(1 / 0.3)]).div(k[2]);
        logAspect = logAspect - logAspect.mean([-1L], keepdim: true);
        var dimsT = tensor(grid.Dims.Select(d => (float)d).ToArray());
        var size = pow(volume.unsqueeze(-1), k[1.0 / axes]).mul(exp(logAspect)).round().clamp_min(k[1]);
        size = minimum(size, dimsT);
        var start = rand(b, blocks, axes, generator: g).mul((dimsT - size).add(k[1], Held.One)).floor();

        // Coordinates of every token [N, axes], then coverage [B, blocks, N].
        var coords = stack(meshgrid(grid.Dims.Select(d => arange(d, dtype: ScalarType.Float32)).ToArray(), indexing: "ij")
            .Select(c => c.reshape(-1)).ToArray(), 1);
        var c = coords.reshape(1, 1, n, axes);
        var inside = (c >= start.unsqueeze(2)).logical_and(c < start.Plus(size).unsqueeze(2)).all(-1);

        // Rank of the first covering box (blocks when none), random tie-break within a box.
        var order = arange(blocks, dtype: ScalarType.Float32).reshape(1, blocks, 1);
        var first = where(inside, order, tensor((float)blocks)).amin([1L]);
        var score = first.Plus(rand(b, n, generator: g).mul(k[0.5]));
        int visible = MaskBudget.Visible(n, Ratio);
        // Lowest scores are masked here, so invert before the shared split (which keeps lowest visible).
        return MaskBudget.FromScores((-score).to(tokens.Tokens.device), visible);
    }
}
