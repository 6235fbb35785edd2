using Maskwork.Abstractions;
using Maskwork.Backend.Masking;
using static TorchSharp.torch;

namespace Maskwork.Plugins.VisionLanguage.Tests;

public class BudgetMaskerTests
{
    /// <summary>A composite batch: an 8×8 image grid, a 16-token text part whose sample i has <paramref name="textLengths"/>[i] real tokens, and a 4×4 alpha grid.</summary>
    static TokenBatch Batch(int[] textLengths)
    {
        int b = textLengths.Length;
        var image = new TokenBatch(zeros(b, 64, 48), new GridLayout([8, 8]));
        var pad = zeros(b, 16, dtype: ScalarType.Bool);
        for (int i = 0; i < b; i++) pad[i, textLengths[i]..] = tensor(true);
        var text = new TokenBatch(zeros(b, 16, 1, dtype: ScalarType.Int64), new SequenceLayout(16)) { Padding = pad };
        var alpha = new TokenBatch(zeros(b, 16, 16), new GridLayout([4, 4]));
        return image with
        {
            Parts = new Dictionary<string, TokenBatch> { ["image"] = image, ["text"] = text, ["alpha"] = alpha },
            SampleKeys = arange(b, dtype: ScalarType.Int64),
        };
    }

    static MaskContext Context(long seed = 7, long step = 3) => new(step, new Generator(1)) { Seed = seed };

    static int[] Lengths(int b) => Enumerable.Range(0, b).Select(i => i % 17).ToArray(); // 0..16 real tokens, some empty

    [Fact]
    public void FixedRatiosShowExactlyMaesCountOfRealTokens()
    {
        using var scope = NewDisposeScope();
        var lengths = Lengths(34);
        var tokens = Batch(lengths);
        var masker = BudgetMasker.FixedRatios([("image", 0.75), ("text", 0.75)]);
        var plan = masker.Plan(tokens, Context());
        // Image: 64 patches, int(64·0.25) = 16 visible in every sample, an index-set plan like the single-modality maskers.
        Assert.Equal(16, plan.Parts!["image"].Visible.shape[1]);
        Assert.Equal(48, plan.Parts["image"].Masked.shape[1]);
        Assert.Same(plan.Parts["image"].Visible, plan.Visible);
        // Text: a dense plan; visible = max(1, int(n·0.25)) of the n real tokens, masked = the rest of the real ones, padding neither.
        var dense = plan.Parts["text"].Dense!;
        var pad = tokens.Parts!["text"].Padding!;
        var visible = dense.logical_not().logical_and(pad.logical_not());
        for (int i = 0; i < lengths.Length; i++)
        {
            int n = lengths[i];
            long expected = n == 0 ? 0 : Math.Max(1, (int)(n * 0.25));
            Assert.Equal(expected, visible[i].sum().item<long>());
            Assert.Equal(n - expected, dense[i].sum().item<long>());
        }
        Assert.False(dense.logical_and(pad).any().item<bool>(), "a padding token was masked (counted as a target)");
    }

    [Fact]
    public void DirichletBudgetsSumToKOverRealTokensOnly()
    {
        using var scope = NewDisposeScope();
        var lengths = Lengths(68);
        var tokens = Batch(lengths);
        var masker = BudgetMasker.Dirichlet(["image", "text", "alpha"], [1.0, 1.0, 1.0], budget: 24);
        var counts = masker.VisibleCounts(tokens, Context());
        var plan = masker.Plan(tokens, Context());
        var pad = tokens.Parts!["text"].Padding!;
        for (int i = 0; i < lengths.Length; i++)
        {
            Assert.Equal(24, counts[i, 0] + counts[i, 1] + counts[i, 2]);
            Assert.True(counts[i, 1] <= lengths[i], $"sample {i}: {counts[i, 1]} text tokens visible of {lengths[i]} real");
            Assert.True(counts[i, 2] <= 16 && counts[i, 0] <= 64);
        }
        // The plans show exactly those counts, never a padding token.
        foreach (var (name, p) in new[] { "image", "text", "alpha" }.Select((n, p) => (n, p)))
        {
            var part = plan.Parts![name];
            var shown = part.Dense is { } d ? d.logical_not() : zeros(68, tokens.Parts[name].TokenCount, dtype: ScalarType.Bool).scatter(1, part.Visible, tensor(true));
            if (name == "text") shown = shown.logical_and(pad.logical_not());
            for (int i = 0; i < 68; i++) Assert.Equal(counts[i, p], shown[i].sum().item<long>());
        }
        // A budget above the real tokens shows them all: min(K, real).
        var all = BudgetMasker.Dirichlet(["image", "text", "alpha"], [1.0, 1.0, 1.0], budget: 1000).VisibleCounts(tokens, Context());
        for (int i = 0; i < lengths.Length; i++) Assert.Equal(64 + lengths[i] + 16, all[i, 0] + all[i, 1] + all[i, 2]);
    }

    [Fact]
    public void DirichletSharesFollowAlpha()
    {
        // Mean share of part p is α_p / Σα, variance α_p(Σα − α_p) / (Σα²(Σα + 1)): checked over 20,000 draws (5 standard errors).
        double[] alpha = [0.5, 2.0, 4.5];
        double sum = alpha.Sum();
        const int draws = 20000;
        var mean = new double[3];
        var m2 = new double[3];
        var share = new double[3];
        ulong state = 12345;
        for (int d = 0; d < draws; d++)
        {
            BudgetMasker.Shares(alpha, subset: false, ref state, share);
            Assert.Equal(1.0, share.Sum(), 9);
            for (int p = 0; p < 3; p++) { mean[p] += share[p] / draws; m2[p] += share[p] * share[p] / draws; }
        }
        for (int p = 0; p < 3; p++)
        {
            double expectedMean = alpha[p] / sum, expectedVar = alpha[p] * (sum - alpha[p]) / (sum * sum * (sum + 1));
            Assert.InRange(mean[p], expectedMean - 5 * Math.Sqrt(expectedVar / draws), expectedMean + 5 * Math.Sqrt(expectedVar / draws));
            Assert.InRange(m2[p] - mean[p] * mean[p], expectedVar * 0.9, expectedVar * 1.1);
        }
        // Through the masker with α = 1 on 3 parts with room: each part's mean visible count ≈ K/3.
        using var scope = NewDisposeScope();
        var tokens = Batch(Enumerable.Repeat(16, 3000).ToArray());
        var counts = BudgetMasker.Dirichlet(["image", "text", "alpha"], [1.0, 1.0, 1.0], budget: 12).VisibleCounts(tokens, Context());
        for (int p = 0; p < 3; p++)
            Assert.InRange(Enumerable.Range(0, 3000).Average(i => (double)counts[i, p]), 4 - 0.25, 4 + 0.25);
    }

    [Fact]
    public void SubsetSamplingZeroesSomePartsAndKeepsTheBudget()
    {
        using var scope = NewDisposeScope();
        var tokens = Batch(Enumerable.Repeat(16, 700).ToArray());
        var counts = BudgetMasker.Dirichlet(["image", "text", "alpha"], [1.0, 1.0, 1.0], budget: 12, sampleSubsets: true).VisibleCounts(tokens, Context());
        int withZero = 0;
        for (int i = 0; i < 700; i++)
        {
            Assert.Equal(12, counts[i, 0] + counts[i, 1] + counts[i, 2]);
            if (counts[i, 0] == 0 || counts[i, 1] == 0 || counts[i, 2] == 0) withZero++;
        }
        // 6 of the 7 non-empty subsets leave a part out.
        Assert.InRange(withZero / 700.0, 6 / 7.0 - 0.06, 6 / 7.0 + 0.06);
    }

    [Fact]
    public void SameKeysSameMasksWhateverTheBatch()
    {
        using var scope = NewDisposeScope();
        var masker = BudgetMasker.Dirichlet(["image", "text", "alpha"], [1.0, 1.0, 1.0], budget: 20);
        var a = masker.VisibleCounts(Batch(Lengths(10)), Context());
        var b = masker.VisibleCounts(Batch(Lengths(10)), Context());
        var c = masker.VisibleCounts(Batch(Lengths(10)), Context(step: 4));
        Assert.Equal(a.Cast<long>(), b.Cast<long>());
        Assert.NotEqual(a.Cast<long>(), c.Cast<long>());
        var p1 = masker.Plan(Batch(Lengths(10)), Context());
        var p2 = masker.Plan(Batch(Lengths(10)), Context());
        Assert.True(p1.Parts!["alpha"].Dense!.eq(p2.Parts!["alpha"].Dense!).all().item<bool>());
    }

    [Fact]
    public void ABatchWithoutPartsIsRefusedWithAReason()
    {
        using var scope = NewDisposeScope();
        var single = new TokenBatch(zeros(2, 4, 3), new GridLayout([2, 2]));
        var e = Assert.Throws<ArgumentException>(() => BudgetMasker.FixedRatios([("image", 0.75)]).Plan(single, Context()));
        Assert.Contains("parts", e.Message);
    }
}
