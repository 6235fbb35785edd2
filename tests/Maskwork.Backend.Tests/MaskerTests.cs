using Maskwork.Abstractions;
using Maskwork.Backend.Masking;
using static TorchSharp.torch;

namespace Maskwork.Backend.Tests;

public class MaskerTests
{
    static TokenBatch Grid(int b, int h, int w) => new(zeros(b, h * w, 3), new GridLayout([h, w]));

    static MaskPlan Plan(IMasker masker, TokenBatch tokens, long seed) =>
        masker.Plan(tokens, new MaskContext(0, new Generator((ulong)seed)));

    public static IEnumerable<object[]> Maskers() =>
    [
        [new RandomMasker(0.75)], [new RandomMasker(0.6)], [new BlockMasker(0.6)], [new BlockMasker(0.4)], [new BlockMasker(0.75)],
    ];

    [Theory]
    [MemberData(nameof(Maskers))]
    public void Counts_are_exact_and_sets_disjoint_and_complete(IMasker masker)
    {
        var tokens = Grid(16, 7, 7);
        var plan = Plan(masker, tokens, 3);
        double ratio = masker is RandomMasker r ? r.Ratio : ((BlockMasker)masker).Ratio;
        int visible = (int)(49 * (1 - ratio));
        Assert.Equal(new long[] { 16, visible }, plan.Visible.shape);
        Assert.Equal(new long[] { 16, 49 - visible }, plan.Masked.shape);
        var all = cat([plan.Visible, plan.Masked], 1).sort(1).Values;
        Assert.True(TensorAssert.Same(all, arange(49).expand(16, 49)), "visible ∪ masked must be every token exactly once");
    }

    [Theory]
    [MemberData(nameof(Maskers))]
    public void Same_seed_same_masks_other_seed_other_masks(IMasker masker)
    {
        var tokens = Grid(8, 7, 7);
        var a = Plan(masker, tokens, 42);
        var b = Plan(masker, tokens, 42);
        var c = Plan(masker, tokens, 43);
        Assert.True(TensorAssert.Same(a.Visible, b.Visible) && TensorAssert.Same(a.Masked, b.Masked));
        Assert.False(TensorAssert.Same(a.Masked.sort(1).Values, c.Masked.sort(1).Values));
    }

    [Fact]
    public void Block_masks_are_contiguous_random_masks_are_not()
    {
        // Fraction of masked tokens whose right neighbour is also masked: blocks score high, noise ≈ ratio.
        static double Adjacency(MaskPlan plan, int side)
        {
            var m = zeros(plan.Masked.shape[0], side * side).scatter_(1, plan.Masked, ones(plan.Masked.shape)).reshape(-1, side, side);
            var pairs = (m[.., .., ..^1] * m[.., .., 1..]).sum().item<float>();
            return pairs / m[.., .., ..^1].sum().item<float>();
        }
        var tokens = Grid(64, 14, 14);
        double block = Adjacency(Plan(new BlockMasker(0.4), tokens, 1), 14);
        double random = Adjacency(Plan(new RandomMasker(0.4), tokens, 1), 14);
        Assert.InRange(random, 0.3, 0.5);
        Assert.True(block > 0.7, $"block adjacency {block:F2} should be far above random {random:F2}");
    }

    [Fact]
    public void Block_masker_refuses_non_grid_layouts()
    {
        var tokens = new TokenBatch(zeros(2, 10, 3), new SequenceLayout(10));
        Assert.Throws<NotSupportedException>(() => Plan(new BlockMasker(0.5), tokens, 0));
    }

    [Fact]
    public void Ratio_outside_range_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Plan(new RandomMasker(1.0), Grid(1, 2, 2), 0));
    }
}
