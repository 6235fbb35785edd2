using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Devices;
using Maskwork.Backend.Nn;
using Maskwork.Backend.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Maskwork.Backend.Tests;

/// <summary>The fast paths (mixed precision, flat gradients, fused AdamW, background tokenization) compute what the plain ones do.</summary>
public class PerformancePathTests
{
    /// <summary>The synthetic tokenizer, declared pure so the trainer runs it on the prefetch thread.</summary>
    sealed class BackgroundSequenceTokenizer(int tokens, int dim) : IBackgroundTokenizer
    {
        readonly SequenceTokenizer inner = new(tokens, dim);
        public TokenBatch Tokenize(IReadOnlyList<Sample> batch, Device device) => inner.Tokenize(batch, device);
        public Tensor Detokenize(Tensor t, TokenBatch like) => t;
    }

    /// <summary>Deterministic in the batch index, no torch RNG: adds a small per-batch offset.</summary>
    sealed class ShiftAugment : ISampleAugment
    {
        public IReadOnlyList<Sample> Apply(IReadOnlyList<Sample> batch, long batchIndex)
        {
            var rng = new Random((int)batchIndex + 11);
            return batch.Select(s => s with { Values = s.Values.Select(v => v + (float)(rng.NextDouble() * 0.1)).ToArray() }).ToList();
        }
    }

    static Trainer NewTrainer(int steps, List<Sample> data, ScalarType precision, bool background, long seed = 5)
    {
        manual_seed(seed);
        var parts = Synthetic.Parts();
        if (background) parts = parts with { Tokenizer = new BackgroundSequenceTokenizer(Synthetic.Tokens, Synthetic.Dim) };
        var setup = new TrainerSetup("test/seq", parts, Synthetic.Train(steps), seed, CPU, precision) { Augment = background ? new ShiftAugment() : null };
        return new Trainer(setup, new SampleSet(data));
    }

    static List<double> Curve(int steps, ScalarType precision, bool background = false)
    {
        var losses = new List<double>();
        using var t = NewTrainer(steps, Synthetic.Samples(64), precision, background);
        t.Run(steps, CancellationToken.None, r => losses.Add(r.Loss));
        return losses;
    }

    [Fact]
    public void Bf16_loss_curve_follows_fp32_for_300_steps()
    {
        var fp32 = Curve(300, ScalarType.Float32);
        var bf16 = Curve(300, ScalarType.BFloat16);
        Assert.All(bf16, l => Assert.True(double.IsFinite(l)));
        // Windows of 25 steps: the mixed-precision curve stays within 10 % (+0.01) of the fp32 one all the way.
        for (int w = 0; w < 300; w += 25)
        {
            double a = fp32.Skip(w).Take(25).Average(), b = bf16.Skip(w).Take(25).Average();
            Assert.True(Math.Abs(a - b) <= 0.10 * a + 0.01, $"steps {w}..{w + 24}: fp32 {a:F4} vs bf16 {b:F4}");
        }
        double start = bf16.Take(10).Average(), end = bf16.TakeLast(25).Average();
        Assert.True(end < 0.5 * start, $"bf16 should learn: {start:F4} → {end:F4}");
        // ...and it is really mixed: not bit-identical to fp32.
        Assert.NotEqual(fp32[^1], bf16[^1]);
    }

    [Fact]
    public void Mixed_precision_multiplies_in_bf16_and_keeps_fp32_weights_norms_and_grads()
    {
        manual_seed(1);
        var dense = new Dense(8, 4);
        var norm = new Norm(4);
        var x = randn(3, 8);
        using (Precision.Use(ScalarType.BFloat16))
        {
            var y = dense.forward(x);
            Assert.Equal(ScalarType.BFloat16, y.dtype);
            var z = norm.forward(y);
            Assert.Equal(ScalarType.Float32, z.dtype);
            z.square().sum().backward();
        }
        foreach (var p in dense.parameters().Concat(norm.parameters()))
        {
            Assert.Equal(ScalarType.Float32, p.dtype);
            Assert.Equal(ScalarType.Float32, p.grad!.dtype);
        }
        Assert.Equal(ScalarType.Float32, Precision.Compute);
    }

    [Fact]
    public void Bf16_attention_keeps_softmax_statistics_in_fp32()
    {
        // The bf16 kernel feeds bf16 scores to libtorch's softmax, relying on its fp32 max/sum. If that
        // ever became a bf16 accumulation, rows of 49 would be off by far more than one output rounding.
        manual_seed(3);
        foreach (var (n, d) in new[] { (12, 64), (49, 32) })
        {
            var q = (randn(4, 3, n, d) * 2).to_type(ScalarType.BFloat16);
            var k = (randn(4, 3, n, d) * 2).to_type(ScalarType.BFloat16);
            var v = randn(4, 3, n, d).to_type(ScalarType.BFloat16);
            var saved = Attention.Kernel;
            Tensor ours;
            try { Attention.Kernel = AttentionKernel.Batched; ours = Attention.Compute(q, k, v).to_type(ScalarType.Float32); }
            finally { Attention.Kernel = saved; }
            var (qf, kf, vf) = (q.to_type(ScalarType.Float32), k.to_type(ScalarType.Float32), v.to_type(ScalarType.Float32));
            var exact = matmul((matmul(qf, kf.transpose(-2, -1)) / Math.Sqrt(d)).softmax(-1), vf);
            double err = (ours - exact).abs().max().item<float>(), scale = exact.abs().max().item<float>();
            Assert.True(err < 0.03 * scale, $"N={n} d={d}: max error {err:G3} of {scale:G3}");
            var scores = matmul(q, k.transpose(-2, -1)) * (1.0 / Math.Sqrt(d));
            var probs = scores.softmax(-1).to_type(ScalarType.Float32);
            Assert.True((probs.sum(-1) - 1).abs().max().item<float>() < 0.02, "bf16 softmax rows must sum to 1 within output rounding");
            // Sharp form: the bf16 kernel must equal the fp32 softmax of the same scores rounded once to bf16.
            // (Measured 0 % of elements differ; a softmax with bf16 exponentials and sum differs in ≈ 35 %.)
            var roundedOnce = scores.to_type(ScalarType.Float32).softmax(-1).to_type(ScalarType.BFloat16).to_type(ScalarType.Float32);
            double differing = probs.ne(roundedOnce).to_type(ScalarType.Float32).mean().item<float>();
            Assert.True(differing < 0.01, $"N={n}: {differing:P1} of bf16 softmax outputs differ from the once-rounded fp32 softmax");
        }
    }

    [Fact]
    public void Helper_threads_run_tensor_ops_single_threaded_without_changing_other_threads()
    {
        int before = get_num_threads();
        int inside = 0, fresh = 0;
        var t = new Thread(() =>
        {
            NativeTuning.SingleThreadedOps();
            inside = get_num_threads();
        });
        t.Start(); t.Join();
        var u = new Thread(() => fresh = get_num_threads());
        u.Start(); u.Join();
        Assert.Equal(1, inside);
        Assert.Equal(before, get_num_threads());
        Assert.Equal(before, fresh); // unlike torch.set_num_threads, later threads keep the process default
    }

    [Fact]
    public void Bf16_instructions_are_read_off_the_cpuinfo_flags_line()
    {
        Assert.True(Precision.HasBf16Flag(["processor\t: 0", "flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_tile"]));
        Assert.True(Precision.HasBf16Flag(["flags : fpu amx_bf16 amx_tile"]));
        Assert.False(Precision.HasBf16Flag(["flags\t\t: fpu sse2 avx2 fma f16c avx512f avx512_vnni"]));
        Assert.False(Precision.HasBf16Flag(["flags\t: avx512_bf16x", "flags\t: avx512_bf16"])); // the first flags line, whole words only
        Assert.Null(Precision.HasBf16Flag(["processor\t: 0", "vendor_id\t: AuthenticAMD", "bugs\t: avx512_bf16"]));
        // The warning: only bf16, only on the CPU, only where the flags say no.
        Assert.Null(Precision.Bf16Warning(ScalarType.Float32, CPU));
        Assert.Equal(Precision.CpuHasBf16 == false, Precision.Bf16Warning(ScalarType.BFloat16, CPU) is not null);
    }

    [Fact]
    public void Dense_as_pointwise_convolution_equals_linear_in_values_and_gradients()
    {
        manual_seed(4);
        var dense = new Dense(24, 40);
        (Tensor Y, Tensor InputGrad, Tensor WeightGrad) Run(Tensor x, bool convolution)
        {
            bool saved = Dense.ConvolutionGemm;
            try
            {
                Dense.ConvolutionGemm = convolution;
                var a = x.detach().requires_grad_();
                var y = dense.forward(a);
                (y * y).sum().backward();
                var result = (y, a.grad!.clone(), dense.parameters().First().grad!.clone());
                dense.zero_grad();
                return result;
            }
            finally { Dense.ConvolutionGemm = saved; }
        }
        foreach (var x in new[] { randn(3, 7, 24), randn(50, 24), randn(7, 3, 24).transpose(0, 1) })
        {
            var (y1, g1, w1) = Run(x, convolution: true);
            var (y2, g2, w2) = Run(x, convolution: false);
            Assert.Equal(y2.shape, y1.shape);
            Assert.True(y1.allclose(y2, rtol: 1e-4, atol: 1e-5), "outputs differ");
            Assert.True(g1.allclose(g2, rtol: 1e-4, atol: 1e-4), "input gradients differ");
            Assert.True(w1.allclose(w2, rtol: 1e-4, atol: 1e-4), "weight gradients differ");
        }
    }

    static AdamWPair Pair(bool fused) => AdamWPair.Make([[40, 3], [3], [2, 2, 2], [37]], fused);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Both_update_paths_equal_torch_AdamW_with_clipping(bool fused)
    {
        var pair = Pair(fused);
        var (_, theirs, flat, reference) = pair;
        Assert.Equal(fused, flat.Fused);
        for (int step = 0; step < 12; step++)
        {
            double lr = 1e-2 * (1 + step % 3);
            pair.Backward(lr);
            // Clip both to norm 1: ours folds the scale into the update, the reference scales the grads first.
            var grad = flat.FlatGradient();
            double norm = grad.norm().item<float>();
            double scale = norm > 1 ? 1 / (norm + 1e-6) : 1;
            using (no_grad()) foreach (var p in theirs) p.grad!.mul_(scale);
            // Alternate the trainer's form (zero_grad folded into the update) with the plain one.
            if (step % 2 == 0) flat.Step(grad, lr, scale, clearGradient: true);
            else { flat.Step(grad, lr, scale); flat.ZeroGrad(); }
            Assert.Equal(0f, flat.Gradients.abs().max().item<float>());
            reference.step();
            reference.zero_grad();
        }
        pair.AssertEqual();
    }

    [Fact]
    public void Gradients_land_in_the_flat_buffer_without_gathering_and_survive_zero_grad()
    {
        var (ours, _, flat, _) = Pair(fused: true);
        (ours[0].sum() * 2 + ours[3].square().sum()).backward();
        // Autograd wrote into the flat buffer: parameter 0's slice is all 2, parameter 1's slice untouched.
        Assert.True(flat.Gradients.narrow(0, 0, 120).eq(2).all().item<bool>());
        Assert.Equal(0, flat.Gradients.narrow(0, 120, 3).abs().sum().item<float>());
        Assert.Same(flat.Gradients, flat.FlatGradient());

        // Someone resets the grads the usual way: the next backward still ends up in the flat gradient.
        flat.ZeroGrad();
        foreach (var p in ours) p.grad = null;
        ours[1].sum().backward();
        var g = flat.FlatGradient();
        Assert.Equal(3, g.sum().item<float>());
        Assert.True(g.narrow(0, 120, 3).eq(1).all().item<bool>());
        ours[1].sum().backward(); // re-pointed: accumulates into the buffer again
        Assert.True(flat.Gradients.narrow(0, 120, 3).eq(2).all().item<bool>());
    }

    [Fact]
    public void Background_tokenization_with_augmentation_resumes_exactly_and_leaks_no_tensors()
    {
        var data = Synthetic.Samples(40);
        string dir = Directory.CreateTempSubdirectory("mw-perf-").FullName;
        try
        {
            var straight = new List<double>();
            using (var t = NewTrainer(16, data, ScalarType.Float32, background: true))
            {
                t.Run(2, CancellationToken.None); // warm: caches (positional tables) exist before counting
                // Earlier tests' undisposed tensors must not be finalised inside the count (they lowered it by a few).
                GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();
                long before = Tensor.TotalCount;
                t.Run(16, CancellationToken.None, r => straight.Add(r.Loss));
                Assert.Equal(before, Tensor.TotalCount);
            }
            string path = Path.Combine(dir, "half.ckpt");
            using (var first = NewTrainer(16, data, ScalarType.Float32, background: true))
            {
                first.Run(8, CancellationToken.None);
                first.Save(path, 0);
            }
            var resumed = new List<double>();
            using var second = NewTrainer(16, data, ScalarType.Float32, background: true);
            second.Load(path);
            second.Run(16, CancellationToken.None, r => resumed.Add(r.Loss));
            Assert.Equal(straight[^1], resumed[^1], 6);

            // Same batches as tokenizing on the trainer thread would give.
            var foreground = new List<double>();
            manual_seed(5);
            var parts = Synthetic.Parts();
            using var plain = new Trainer(new TrainerSetup("test/seq", parts, Synthetic.Train(16), 5, CPU, ScalarType.Float32) { Augment = new ShiftAugment() }, new SampleSet(data));
            plain.Run(2, CancellationToken.None);
            plain.Run(16, CancellationToken.None, r => foreground.Add(r.Loss));
            Assert.Equal(straight[^1], foreground[^1], 6);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Step_reports_carry_a_time_split()
    {
        using var t = NewTrainer(3, Synthetic.Samples(16), ScalarType.Float32, background: true);
        var reports = new List<StepReport>();
        t.Run(3, CancellationToken.None, reports.Add);
        Assert.All(reports, r =>
        {
            Assert.NotNull(r.Timings);
            Assert.True(r.Timings!.Forward > 0 && r.Timings.Backward > 0 && r.Timings.Optimizer > 0);
            Assert.True(r.Timings.Data + r.Timings.Forward + r.Timings.Backward + r.Timings.Optimizer <= r.Seconds + 1e-3);
        });
    }

    [Fact]
    public void Image_augmentation_is_deterministic_per_batch_and_flips_exactly()
    {
        var rng = new Random(3);
        var batch = Enumerable.Range(0, 4).Select(i => new Sample(Enumerable.Range(0, 2 * 6 * 6).Select(_ => rng.NextSingle()).ToArray(), [2, 6, 6], i, $"s{i}")).ToList();
        var aug = new ImageAugment(9);
        var a = aug.Apply(batch, 5);
        var b = aug.Apply(batch, 5);
        var c = aug.Apply(batch, 6);
        Assert.Equal(a.Select(s => s.Values), b.Select(s => s.Values));
        Assert.NotEqual(a.Select(s => s.Values), c.Select(s => s.Values));
        Assert.All(a, s => Assert.Equal([2, 6, 6], s.Shape));
        Assert.Equal(batch.Select(s => s.Label), a.Select(s => s.Label));

        // No crop (scale 1) and always flip: exactly the mirrored image.
        var flip = new ImageAugment(1, minScale: 1.0, flipProbability: 1.0, maxAspect: 1.0).Apply(batch, 0);
        for (int i = 0; i < batch.Count; i++)
        {
            var expected = tensor(batch[i].Values, [2, 6, 6]).flip(2);
            Assert.True(tensor(flip[i].Values, [2, 6, 6]).allclose(expected, atol: 1e-5), $"sample {i} is not mirrored");
        }
    }
}
