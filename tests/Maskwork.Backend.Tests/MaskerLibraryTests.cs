using Maskwork.Abstractions;
using Maskwork.Backend.Masking;
using Maskwork.Backend.Nn;
using Maskwork.Backend.Objectives;
using static TorchSharp.torch;

namespace Maskwork.Backend.Tests;

/// <summary>The grid masker library: per-sample keys, tube, running cell, noise colours, schedules, guided.</summary>
public class MaskerLibraryTests
{
    static TokenBatch Batch(int b, GridLayout grid, long firstKey = 0) =>
        new(zeros(b, grid.Count, 2), grid) { SampleKeys = arange(firstKey, firstKey + b, dtype: ScalarType.Int64) };

    static MaskContext Context(long step = 0, long seed = 7, long total = 0) => new(step, new Generator(1)) { Seed = seed, TotalSteps = total };

    static readonly GridLayout Grid2 = new([7, 7]);
    static readonly GridLayout Video = new([4, 6, 6]) { Axes = "t,y,x" };
    static readonly GridLayout Volume = new([6, 6, 6]);

    /// <summary>0/1 mask [B,N] of the masked tokens.</summary>
    static Tensor Dense(MaskPlan plan, long n) =>
        zeros(plan.Masked.shape[0], n).scatter_(1, plan.Masked, ones(plan.Masked.shape));

    public static IEnumerable<object[]> Cases() =>
    [
        ["random", new RandomMasker(0.75), Grid2],
        ["random-3d", new RandomMasker(0.6), Volume],
        ["block-2d", new BlockMasker(0.6), Grid2],
        ["block-3d", new BlockMasker(0.5), Volume],
        ["cube-3d", new BlockMasker(0.5) { CubeSide = 2 }, Volume],
        ["tube", new TubeMasker(new RandomMasker(0.75)), Video],
        ["tube-block", new TubeMasker(new BlockMasker(0.5)), Video],
        ["noise-green-2d", new NoiseMasker(0.6, NoiseColor.Green), Grid2],
        ["noise-red-3d", new NoiseMasker(0.6, NoiseColor.Red), Volume],
        ["noise-bank", new NoiseMasker(0.6, NoiseColor.Blue) { BankSize = 16 }, Grid2],
        ["scheduled", new RandomMasker(new MaskRatio(0.3, 0.9, MaskSchedule.Linear)), Grid2],
        ["dual", new DecoderMasked(new TubeMasker(new RandomMasker(0.9)), new RunningCellMasker(0.5)), Video],
    ];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Counts_are_exact_sets_disjoint_and_complete_and_keyed_per_sample(string name, IMasker masker, GridLayout grid)
    {
        int n = grid.Count;
        var ctx = Context(step: 5, total: 11);
        var plan = masker.Plan(Batch(12, grid), ctx);
        var all = cat([plan.Visible, plan.Masked], 1).sort(1).Values;
        Assert.True(TensorAssert.Same(all, arange(n).expand(12, n)), $"{name}: visible ∪ masked must be every token exactly once");

        // Same seed and step: same masks. Another step or seed: others.
        var again = masker.Plan(Batch(12, grid), ctx);
        Assert.True(TensorAssert.Same(Dense(plan, n), Dense(again, n)), name);
        Assert.False(TensorAssert.Same(Dense(plan, n), Dense(masker.Plan(Batch(12, grid), Context(step: 6, total: 11)), n)), $"{name}: another step, other masks");
        Assert.False(TensorAssert.Same(Dense(plan, n), Dense(masker.Plan(Batch(12, grid), Context(step: 5, seed: 8, total: 11)), n)), $"{name}: another seed, other masks");

        // The same sample gets the same mask in any batch position and in any slice of the batch.
        var perm = new long[] { 11, 3, 7, 0, 1, 2, 4, 5, 6, 8, 9, 10 };
        var shuffled = new TokenBatch(zeros(12, n, 2), grid) { SampleKeys = tensor(perm) };
        var moved = masker.Plan(shuffled, ctx);
        Assert.True(TensorAssert.Same(Dense(moved, n), Dense(plan, n).index_select(0, tensor(perm))), $"{name}: batch position changed a mask");
        var slice = masker.Plan(Batch(5, grid, firstKey: 7), ctx);
        Assert.True(TensorAssert.Same(Dense(slice, n), Dense(plan, n)[7..12]), $"{name}: a slice changed a mask");
        if (plan.DecoderTargets is { } kept)
        {
            static Tensor Kept(Tensor k, long n) => zeros(k.shape[0], n).scatter_(1, k, ones(k.shape));
            Assert.True(TensorAssert.Same(Kept(moved.DecoderTargets!, n), Kept(kept, n).index_select(0, tensor(perm))), $"{name}: batch position changed a decoder mask");
        }
    }

    [Fact]
    public void Masks_spread_evenly_over_tokens_and_samples()
    {
        // The counter hash must not favour positions: over 2,000 samples each of 49 tokens is masked ≈ 75 % of the time.
        var plan = new RandomMasker(0.75).Plan(Batch(2000, Grid2), Context());
        var rate = Dense(plan, 49).mean([0L]);
        Assert.InRange(rate.min().item<float>(), 0.70, 0.80);
        Assert.InRange(rate.max().item<float>(), 0.70, 0.80);
        // Neighbouring sample keys do not give correlated masks.
        var m = Dense(plan, 49);
        float agreement = m[..^1].eq(m[1..]).to_type(ScalarType.Float32).mean().item<float>();
        Assert.InRange(agreement, 0.6, 0.65); // independent: 0.75² + 0.25² = 0.625
    }

    [Fact]
    public void Tube_masks_the_same_spatial_tokens_in_every_time_slice()
    {
        var plan = new TubeMasker(new RandomMasker(0.75)).Plan(Batch(8, Video), Context());
        var m = Dense(plan, Video.Count).reshape(8, 4, 36);
        Assert.True(TensorAssert.Same(m.sum(2), full(new long[] { 8, 4 }, 27f)), "27 of 36 tokens masked in every slice");
        for (int t = 1; t < 4; t++) Assert.True(TensorAssert.Same(m[.., t], m[.., 0]));
        // Time axis elsewhere (y,t,x): still constant along t.
        var yt = new GridLayout([6, 4, 6]) { Axes = "y,t,x" };
        var m2 = Dense(new TubeMasker(new RandomMasker(0.5)).Plan(Batch(4, yt), Context()), yt.Count).reshape(4, 6, 4, 6);
        for (int t = 1; t < 4; t++) Assert.True(TensorAssert.Same(m2[.., .., t], m2[.., .., 0]));
        Assert.Throws<NotSupportedException>(() => new TubeMasker(new RandomMasker(0.5)).Plan(Batch(2, Volume), Context()));
    }

    [Theory]
    [InlineData(0.25, 3)]
    [InlineData(0.5, 2)]
    [InlineData(0.75, 1)]
    public void Running_cell_keeps_the_same_share_of_every_cell_and_rotates_over_time(double ratio, int keep)
    {
        var grid = new GridLayout([8, 4, 6]) { Axes = "t,y,x" };
        var plan = new RunningCellMasker(ratio).Plan(Batch(6, grid), Context());
        var kept = zeros(6, grid.Count).scatter_(1, plan.Visible, ones(plan.Visible.shape)).reshape(6, 8, 2, 2, 3, 2); // [B,t,cy,y,cx,x]
        // Every 2×2 cell keeps `keep` of 4 in every slice.
        Assert.True(TensorAssert.Same(kept.sum([3L, 5L]), full(new long[] { 6, 8, 2, 3 }, (float)keep)));
        // Every position is kept in `keep` of every 4 consecutive slices.
        for (int t0 = 0; t0 + 4 <= 8; t0++)
            Assert.True(TensorAssert.Same(kept[.., t0..(t0 + 4)].sum(1), full(new long[] { 6, 2, 2, 3, 2 }, (float)keep)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RunningCellMasker(0.6));
        Assert.Throws<NotSupportedException>(() => new RunningCellMasker(0.5).Plan(Batch(1, new GridLayout([4, 5, 6]) { Axes = "t,y,x" }), Context()));
    }

    [Fact]
    public void Decoder_kept_loss_counts_tokens_the_encoder_masked_and_the_decoder_kept()
    {
        // 2 samples × 4 tokens. Sample 0: masked {1,2,3}, decoder keeps {0,2,3} → tokens 2, 3 count.
        // Sample 1: masked {0,1,3}, decoder keeps {1,2,3} → tokens 1, 3 count.
        var masked = tensor(new long[] { 1, 2, 3, 0, 1, 3 }, [2, 3]);
        var kept = tensor(new long[] { 0, 2, 3, 1, 2, 3 }, [2, 3]);
        var perToken = tensor(new float[] { 10, 2, 4, 1, 6, 8 }, [2, 3]); // errors of the masked tokens, in `masked` order
        float loss = Losses.DecoderKeptMean(perToken, masked, kept, 4).item<float>();
        Assert.Equal(((2f + 4f) / 2 + (6f + 8f) / 2) / 2, loss, 5);

        // An error only on a masked token the decoder dropped (sample 0's token 1) counts for nothing.
        var onlyDropped = tensor(new float[] { 100, 0, 0, 0, 0, 0 }, [2, 3]);
        Assert.Equal(0f, Losses.DecoderKeptMean(onlyDropped, masked, kept, 4).item<float>());
    }

    [Fact]
    public void Decoder_queries_put_masked_and_kept_tokens_first_and_weight_the_padding_zero()
    {
        // Sample 0: masked {1,2,3} ∩ kept {1,2,3} = all three; sample 1: masked {0,1,3} ∩ kept {0,2,3} = {0,3} → M = 3,
        // sample 1 padded with its other masked token (1) at weight 0.
        var masked = tensor(new long[] { 1, 2, 3, 0, 1, 3 }, [2, 3]);
        var kept = tensor(new long[] { 1, 2, 3, 0, 2, 3 }, [2, 3]);
        var (queries, weight) = Losses.DecoderQueries(masked, kept, 4);
        Assert.Equal(new long[] { 1, 2, 3, 0, 3, 1 }, queries.data<long>().ToArray());
        Assert.Equal(new float[] { 1, 1, 1, 1, 1, 0 }, weight.data<float>().ToArray());
    }

    [Fact]
    public void Dual_decoder_that_keeps_every_token_scores_like_the_plain_decoder()
    {
        // The V2 path runs the decoder on visible + kept-masked tokens only; keeping all of them must give MAE's loss
        // (attention is order-free once positions are added), and the reconstruction keeps the full token shape.
        manual_seed(3);
        var objective = new MaeObjective(8, 6, new TransformerShape(8, 1, 2), normPix: true);
        var grid = new GridLayout([4, 4]);
        var tokens = new TokenBatch(randn(3, 16, 6), grid) { SampleKeys = arange(3L) };
        var plan = new RandomMasker(0.75).Plan(tokens, Context());
        var latent = randn(3, plan.VisibleCount, 8);
        var encoded = new Encoded(latent);
        float plain = objective.Compute(tokens, plan, encoded).Loss.item<float>();
        var everything = arange(16L).unsqueeze(0).expand(3, 16);
        var dual = objective.Compute(tokens, plan with { DecoderTargets = everything }, encoded);
        Assert.Equal(plain, dual.Loss.item<float>(), 4);
        Assert.Equal(tokens.Tokens.shape, dual.Reconstruction!.shape);

        // With a real running-cell mask the decoder predicts fewer tokens and the gradient still reaches the encoder side.
        var video = new GridLayout([4, 4, 4]) { Axes = "t,y,x" };
        var clip = new TokenBatch(randn(2, 64, 6), video) { SampleKeys = arange(2L) };
        var v2 = new DecoderMasked(new TubeMasker(new RandomMasker(0.75)), new RunningCellMasker(0.5)).Plan(clip, Context());
        var z = randn(2, v2.VisibleCount, 8, requires_grad: true);
        var result = objective.Compute(clip, v2, new Encoded(z));
        result.Loss.backward();
        Assert.True(float.IsFinite(result.Loss.item<float>()));
        Assert.True(z.grad!.abs().sum().item<float>() > 0);
    }

    /// <summary>Radially averaged power spectrum of many centred masks (torch.fft), in 4 bands from low to high frequency.</summary>
    static float[] Bands(NoiseColor color, int bank = 0)
    {
        var grid = new GridLayout([32, 32]);
        var plan = new NoiseMasker(0.5, color) { BankSize = bank }.Plan(Batch(96, grid), Context());
        var m = Dense(plan, grid.Count).reshape(96, 32, 32);
        m = m - m.mean([1L, 2L], keepdim: true);
        var power = fft.fft2(m).abs().square().mean([0L]);
        var f = fft.fftfreq(32);
        var radius = (f.view(-1, 1).square() + f.view(1, -1).square()).sqrt();
        double[] edges = [0.01, 0.12, 0.2, 0.32, 0.71];
        var bands = new float[4];
        for (int i = 0; i < 4; i++)
        {
            var sel = radius.ge(edges[i]).logical_and(radius.lt(edges[i + 1]));
            bands[i] = power.masked_select(sel).mean().item<float>();
        }
        return bands;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(64)]
    public void Noise_masks_have_the_spectrum_their_colour_names(int bank)
    {
        var white = Bands(NoiseColor.White, bank);
        var red = Bands(NoiseColor.Red, bank);
        var blue = Bands(NoiseColor.Blue, bank);
        var green = Bands(NoiseColor.Green, bank);
        var purple = Bands(NoiseColor.Purple, bank);
        string Show(float[] b) => string.Join(" ", b.Select(v => v.ToString("F0")));
        string all = $"white {Show(white)} | red {Show(red)} | blue {Show(blue)} | green {Show(green)} | purple {Show(purple)}";
        Assert.True(red[0] > 2 * white[0] && red[3] < white[3], "red: above white at low frequencies; " + all);
        Assert.True(blue[3] > white[3] && blue[0] < white[0] / 2, "blue: above white at high frequencies; " + all);
        // Green peaks in its band (0.2–0.32 cycles/token), above white there and below it at the lowest frequencies.
        Assert.True(green[2] > green[0] && green[2] > green[3] && green[2] > 1.5 * white[2] && green[0] < white[0], "green: peak in band; " + all);
        Assert.True(purple[2] < white[2] && purple[2] < purple[0], "purple: dip in band; " + all);
    }

    [Fact]
    public void Schedules_give_the_expected_ratio_at_chosen_steps()
    {
        var linear = new MaskRatio(0.4, 0.8, MaskSchedule.Linear);
        var cosine = new MaskRatio(0.4, 0.8, MaskSchedule.Cosine);
        Assert.Equal(0.4, linear.At(0, 101), 9);
        Assert.Equal(0.6, linear.At(50, 101), 9);
        Assert.Equal(0.8, linear.At(100, 101), 9);
        Assert.Equal(0.4, cosine.At(0, 101), 9);
        Assert.Equal(0.4 + 0.4 * (1 - Math.Cos(Math.PI / 4)) / 2, cosine.At(25, 101), 9);
        Assert.Equal(0.6, cosine.At(50, 101), 9);
        Assert.Equal(0.5, new MaskRatio(0.5, 0.9).At(50, 101), 9); // constant unless scheduled
        // Through a masker: exact counts at those steps.
        var masker = new RandomMasker(linear);
        Assert.Equal(49 - (int)(49 * (1 - 0.4)), masker.Plan(Batch(2, Grid2), Context(step: 0, total: 101)).MaskedCount);
        Assert.Equal(49 - (int)(49 * (1 - 0.6)), masker.Plan(Batch(2, Grid2), Context(step: 50, total: 101)).MaskedCount);
    }

    [Fact]
    public void Guided_at_temperature_zero_hides_exactly_the_top_scored_tokens_and_refuses_without_guidance()
    {
        var scores = MaskRandom.For(Batch(6, Grid2), Context(seed: 99)).Uniform(0, 49);
        var ctx = Context() with { Guidance = scores };
        var hardest = new GuidedMasker(0.6, GuidedHide.Hardest, 0).Plan(Batch(6, Grid2), ctx);
        int masked = 49 - (int)(49 * 0.4);
        var top = scores.topk(masked, dim: 1).indexes.sort(1).Values;
        Assert.True(TensorAssert.Same(hardest.Masked.sort(1).Values, top));
        var easiest = new GuidedMasker(0.6, GuidedHide.Easiest, 0).Plan(Batch(6, Grid2), ctx);
        Assert.True(TensorAssert.Same(easiest.Masked.sort(1).Values, (-scores).topk(masked, dim: 1).indexes.sort(1).Values));
        // A guided share: that many of the top-scored, the rest random.
        var half = new GuidedMasker(0.6, GuidedHide.Hardest, 0) { Fraction = 0.5 }.Plan(Batch(6, Grid2), ctx);
        var topHalf = scores.topk(masked / 2, dim: 1).indexes;
        Assert.True(Dense(half, 49).gather(1, topHalf).eq(1).all().item<bool>());
        // A warm temperature still prefers high scores, but not exclusively.
        var warm = new GuidedMasker(0.6, GuidedHide.Hardest, 1.0).Plan(Batch(6, Grid2), ctx);
        float overlap = Dense(warm, 49).gather(1, top).mean().item<float>();
        Assert.InRange(overlap, 0.75, 0.99);
        var e = Assert.Throws<InvalidOperationException>(() => new GuidedMasker(0.6, GuidedHide.Hardest, 0).Plan(Batch(2, Grid2), Context()));
        Assert.Contains("Guidance", e.Message);
    }

    [Fact]
    public void Shared_options_build_every_masker_and_list_the_known_names()
    {
        Assert.IsType<NoiseMasker>(new GridMaskerOptions { Masker = "noise", Noise = "purple" }.Build());
        Assert.IsType<TubeMasker>(new GridMaskerOptions { Masker = "tube" }.Build());
        Assert.IsType<DecoderMasked>(new GridMaskerOptions { Masker = "tube", DecoderMasker = "running-cell" }.Build());
        Assert.Equal(4, ((BlockMasker)new GridMaskerOptions { Masker = "block", BlockTokens = 4 }.Build()).CubeSide);
        var e = Assert.Throws<ArgumentException>(() => new GridMaskerOptions { Masker = "stripes" }.Build());
        Assert.Contains("random, block, tube, noise, guided", e.Message);
        e = Assert.Throws<ArgumentException>(() => new GridMaskerOptions { Masker = "noise", Noise = "pink" }.Build());
        Assert.Contains("white, red, blue, green, purple", e.Message);
        e = Assert.Throws<ArgumentException>(() => new GridMaskerOptions { MaskSchedule = "step" }.Build());
        Assert.Contains("constant, linear, cosine", e.Message);
        // Every option says in one line what it does.
        foreach (var p in typeof(GridMaskerOptions).GetProperties())
        {
            var d = p.GetCustomAttributes(typeof(System.ComponentModel.DescriptionAttribute), false).Cast<System.ComponentModel.DescriptionAttribute>().SingleOrDefault();
            Assert.False(string.IsNullOrWhiteSpace(d?.Description), $"{p.Name} has no description");
        }
        var names = OptionsJson.ToJson(new GridMaskerOptions()).Select(kv => kv.Key).ToArray();
        Assert.Equal(["masker", "mask_ratio", "mask_ratio_end", "mask_schedule", "block_aspect", "block_tokens", "noise", "noise_bank", "guided_hide",
            "guided_temperature", "guided_fraction", "guided_fraction_end", "decoder_masker", "decoder_mask_ratio"], names);
    }
}
