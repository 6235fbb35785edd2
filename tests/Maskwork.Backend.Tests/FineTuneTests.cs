using Maskwork.Abstractions;
using Maskwork.Backend.Nn;
using Maskwork.Backend.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Maskwork.Backend.Tests;

public class FineTuneTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("mw-finetune-").FullName;

    public void Dispose() => Directory.Delete(dir, true);

    static readonly FineTuneOptions Tiny = new()
    {
        Epochs = 2, Batch = 8, BaseLr = 0.05, WarmupEpochs = 0.5, DropPath = 0.2, ValFraction = 0.2, CheckpointEvery = 0, LogEvery = 1,
    };

    /// <summary>Two classes of synthetic sequences: the class shifts every value, so the head can learn it.</summary>
    static List<Sample> Labelled(int count, string split, int seed) =>
        Synthetic.Samples(count, seed).Select((s, i) => s with
        {
            Values = s.Values.Select(v => v + (i % 2 == 0 ? 0.5f : -0.5f)).ToArray(), Label = i % 2, Source = $"{split}#{i}", Split = split,
        }).ToList();

    static FineTuner NewTuner(FineTuneOptions options, long seed = 3)
    {
        manual_seed(11);
        var parts = Synthetic.Parts(); // VitEncoder 32-d × 2 blocks
        var data = FineTuneData.Split(Labelled(40, "train", 1).Concat(Labelled(16, "test", 2)).ToList(), options.ValFraction, 0, seed);
        return new FineTuner(new FineTuneSetup("test/seq", parts, options, 0, seed, CPU, ScalarType.Float32), data);
    }

    [Fact]
    public void Layer_decay_gives_each_block_the_documented_learning_rate()
    {
        using var tuner = NewTuner(Tiny with { LayerDecay = 0.5 });
        var scales = tuner.LrScales().ToDictionary(p => p.Name, p => p.Scale);
        // 2 blocks: embedding = layer 0 → 0.5³, block i = layer i + 1 → 0.5^(2 − i), final norm and head = layer 3 → 1.
        foreach (var (name, scale) in scales)
        {
            double expected = name.StartsWith("encoder.embed.") ? 0.125
                : name.StartsWith("encoder.transformer.blocks.0.") ? 0.25
                : name.StartsWith("encoder.transformer.blocks.1.") ? 0.5
                : name.StartsWith("encoder.transformer.norm.") || name.StartsWith("fc_norm.") || name.StartsWith("head.") ? 1.0
                : double.NaN;
            Assert.True(expected == scale, $"{name}: scale {scale}, expected {expected}");
        }
        Assert.Contains(scales.Keys, n => n.StartsWith("encoder.transformer.blocks.1."));
        Assert.Equal([0.75 * 0.75 * 0.75, 0.75 * 0.75, 0.75, 1, 1], Classifier.LayerScales(["embed.w", "blocks.0.w", "blocks.1.w", "norm.w", "head.w"], 0.75));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Flat_AdamW_with_learning_rate_scales_equals_torch_AdamW_with_one_group_per_scale(bool fused)
    {
        manual_seed(7);
        long[][] shapes = [[4, 3], [3], [2, 2, 2], [5], [6, 2]];
        double[] scales = [0.125, 0.125, 0.5, 1, 1];
        var ours = shapes.Select(s => nn.Parameter(randn(s))).ToList();
        var theirs = ours.Select(p => nn.Parameter(p.detach().clone())).ToList();
        bool Decays(int i) => shapes[i].Length >= 2;
        using var flat = new FlatAdamW(ours.Select((p, i) => new OptimizedParameter($"p{i}", p, Decays(i)) { LrScale = scales[i] }).ToList(), 0.9, 0.999, 0.05) { Fused = fused };
        const double lr = 1e-2;
        var groups = theirs.Select((p, i) => new AdamW.ParamGroup([p],
            new AdamW.Options { LearningRate = lr * scales[i], weight_decay = Decays(i) ? 0.05 : 0, beta1 = 0.9, beta2 = 0.999 })).ToList();
        var reference = optim.AdamW(groups, lr: lr);
        for (int step = 0; step < 6; step++)
        {
            foreach (var set in new[] { ours, theirs })
            {
                manual_seed(100 + step);
                set.Select(p => (p * randn(p.shape)).sum()).Aggregate((a, b) => a + b).backward();
            }
            flat.Step(flat.FlatGradient(), lr);
            flat.ZeroGrad();
            reference.step();
            reference.zero_grad();
        }
        for (int i = 0; i < ours.Count; i++)
            Assert.True(ours[i].allclose(theirs[i], rtol: 1e-5, atol: 1e-6), $"parameter {i} (scale {scales[i]}) differs");
    }

    [Fact]
    public void A_resumed_fine_tune_matches_an_uninterrupted_one()
    {
        var losses = new List<double>();
        using var straight = NewTuner(Tiny);
        straight.Run(long.MaxValue, CancellationToken.None, s => losses.Add(s.Loss));
        Assert.Equal(2, straight.History.Count);
        Assert.Equal(8, straight.StepsPerEpoch * straight.Options.Epochs); // 32 train samples after the 20 % hold-out, batch 8

        string path = Path.Combine(dir, "mid.ckpt");
        using (var first = NewTuner(Tiny))
        {
            first.Run(6, CancellationToken.None); // mid-way through the second epoch
            first.Save(path);
        }
        var resumedLosses = new List<double>();
        using var second = NewTuner(Tiny);
        second.Load(path);
        Assert.Equal(6, second.Step);
        Assert.Single(second.History);
        second.Run(long.MaxValue, CancellationToken.None, s => resumedLosses.Add(s.Loss));

        Assert.Equal(losses.Skip(6), resumedLosses);
        Assert.True(TensorAssert.Same(straight.Optimizer.Parameters, second.Optimizer.Parameters), "parameters differ after the resume");
        Assert.Equal(straight.History, second.History);
        Assert.True(losses[^1] < losses[0], $"loss should fall: {losses[0]} → {losses[^1]}");

        // Another seed is another fine-tune: its checkpoint is refused.
        using var other = NewTuner(Tiny, seed: 4);
        Assert.Contains("seed", Assert.Throws<CheckpointException>(() => other.Load(path)).Message);
    }

    [Fact]
    public void Held_out_validation_is_seeded_disjoint_and_a_tenth_of_train()
    {
        var samples = Labelled(100, "train", 1).Concat(Labelled(10, "test", 2)).ToList();
        var a = FineTuneData.Split(samples, 0.1, 0, 5);
        var b = FineTuneData.Split(samples, 0.1, 0, 5);
        var c = FineTuneData.Split(samples, 0.1, 0, 6);
        Assert.True(a.HeldOut);
        Assert.Equal(10, a.Val.Count);
        Assert.Equal(90, a.Train.Count);
        Assert.Empty(a.Train.Select(s => s.Source).Intersect(a.Val.Select(s => s.Source)));
        Assert.Equal(a.Val.Select(s => s.Source), b.Val.Select(s => s.Source));
        Assert.NotEqual(a.Val.Select(s => s.Source), c.Val.Select(s => s.Source));
        Assert.Equal(30, FineTuneData.Split(samples, 0.1, 30, 5).Train.Count);
        // eval_limit: seeded subsets of val and test, the train split untouched.
        var full = FineTuneData.Split(samples, 0.1, 0, 5);
        var small = FineTuneData.Split(samples, 0.1, 0, evalLimit: 3, 5);
        Assert.Equal(3, small.Val.Count);
        Assert.Equal(Math.Min(3, full.Test.Count), small.Test.Count);
        Assert.Equal(full.Train.Select(s => s.Source), small.Train.Select(s => s.Source));
        Assert.Subset(full.Val.Select(s => s.Source).ToHashSet(), small.Val.Select(s => s.Source).ToHashSet());
        var own = FineTuneData.Split(samples.Concat(Labelled(7, "val", 3)).ToList(), 0.1, 0, 5);
        Assert.False(own.HeldOut);
        Assert.Equal(7, own.Val.Count);
        Assert.Equal(100, own.Train.Count);
    }

    [Fact]
    public void Drop_path_is_seeded_rises_with_depth_and_is_off_in_eval()
    {
        manual_seed(1);
        var encoder = new Maskwork.Backend.Nn.Transformer(16, 3, 2);
        Assert.Equal(3, StochasticDepth.Apply(encoder, 0.3));
        Assert.Equal([0, 0.15, 0.3], encoder.modules().OfType<TransformerBlock>().Select(b => Math.Round(b.DropPath, 9)));
        var x = randn(64, 4, 16);
        Tensor Run(long seed)
        {
            using var g = new Generator((ulong)seed);
            using var _ = StochasticDepth.Use(g);
            using var __ = no_grad();
            return encoder.forward(x);
        }
        encoder.train();
        Assert.True(TensorAssert.Same(Run(5), Run(5)));
        Assert.False(TensorAssert.Same(Run(5), Run(6)));
        encoder.eval();
        var eval = Run(5);
        Assert.True(TensorAssert.Same(eval, Run(6)));
        StochasticDepth.Apply(encoder, 0);
        encoder.train();
        Assert.True(TensorAssert.Same(eval, Run(7)), "without drop path, training and eval forward passes agree");
    }
}
