using System.Globalization;
using Maskwork.Abstractions;
using Maskwork.Backend.Devices;
using Maskwork.Backend.Training;
using Maskwork.Plugins.Image.Recipes;
using TorchSharp;
using static TorchSharp.torch;

namespace Maskwork.Bench.Cases;

/// <summary>
/// The MAE-Tiny/4 benchmark configuration of <c>../shared/peers/README.md</c>, built through the real
/// image plugin recipe: 28×28×1, patch 4 (49 tokens), encoder 192×12×3 heads, decoder 128×4×4 heads,
/// mask 0.75, AdamW (0.9, 0.95, wd 0.05).
/// </summary>
static class MaeTiny
{
    public static readonly ImageMaeOptions Options = new()
    {
        Size = 28, Channels = 1, Patch = 4, EncoderDim = 192, EncoderDepth = 12, EncoderHeads = 3,
        DecoderDim = 128, DecoderDepth = 4, DecoderHeads = 4, MaskRatio = 0.75, NormPix = true,
    };

    public static ImageMaeRecipe Recipe() => new("image/mae", "MAE on images", block: false);

    public static ModelParts Parts(long seed = 0, Device? device = null)
    {
        manual_seed(seed);
        return Recipe().Build(Options, new BuildContext(device ?? CPU, new DataSpec("synthetic", "")));
    }

    /// <summary>Uniform-noise images in [0,1] (the peer trains on noise too: the step costs the same).</summary>
    public static List<Sample> Samples(int count, int seed = 0)
    {
        var rng = new Random(seed);
        var list = new List<Sample>(count);
        for (int i = 0; i < count; i++)
        {
            var v = new float[28 * 28];
            for (int j = 0; j < v.Length; j++) v[j] = rng.NextSingle();
            list.Add(new Sample(v, [1, 28, 28], i % 10, $"noise#{i}"));
        }
        return list;
    }

    public static TrainOptions Train(int batch, int steps) => Recipe().Training with
    {
        Batch = batch, Steps = steps, CheckpointEvery = 0, BaseLr = 1.5e-4 * 256 / batch, WarmupSteps = 0,
    };

    public static TrainerSetup Setup(ModelParts parts, int batch, int steps, ScalarType precision, long seed = 1, Device? device = null) =>
        new("image/mae", parts, Train(batch, steps), seed, device ?? CPU, precision);

    /// <summary>
    /// GEMM FLOPs of one training step (forward + backward = 3 × forward), attention included:
    /// the useful arithmetic, so GFLOP/s compares with a plain GEMM's.
    /// </summary>
    public static double TrainFlops(int batch)
    {
        var o = Options;
        int tokens = (o.Size / o.Patch) * (o.Size / o.Patch), pd = o.Patch * o.Patch * o.Channels;
        int visible = Math.Max(1, (int)(tokens * (1 - o.MaskRatio)));
        static double Block(double n, double d, double heads) =>
            2 * n * d * (3 * d + d + 4 * d + 4 * d) + 2 * 2 * n * n * d; // qkv, proj, fc1, fc2; QK^T and AV
        double forward = 2.0 * batch * tokens * pd * o.EncoderDim                   // embed (all tokens, as ours)
            + batch * o.EncoderDepth * Block(visible, o.EncoderDim, o.EncoderHeads)
            + 2.0 * batch * visible * o.EncoderDim * o.DecoderDim                       // decoder embed
            + batch * o.DecoderDepth * Block(tokens, o.DecoderDim, o.DecoderHeads)
            + 2.0 * batch * tokens * o.DecoderDim * pd;                                 // prediction
        return 3 * forward;
    }

    /// <summary>
    /// Best GFLOP/s of a 1024³ product in <paramref name="dtype"/> in this process, over the two GEMM
    /// routes libtorch offers on the CPU: <c>mm</c> (BLAS / oneDNN matmul) and a 1×1 channels-last
    /// convolution (oneDNN), the one <see cref="Maskwork.Backend.Nn.Dense"/> uses for fp32.
    /// </summary>
    public static (double Best, double Mm, double Conv) GemmPeak(ScalarType dtype, int n = 1024, int reps = 6)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var a = randn(n, n).to_type(dtype);
        var b = randn(n, n).to_type(dtype);
        var image = a.reshape(1, n, 1, n).permute(0, 3, 1, 2);
        var kernel = b.view(n, n, 1, 1);
        double Best(Action run) => 2.0 * n * n * n / (Timing.Best(run, reps: reps) / 1e3) / 1e9;
        double mm = Best(() => a.mm(b).Dispose());
        double conv = Best(() => nn.functional.conv2d(image, kernel, dilation: [2, 1]).Dispose());
        return (Math.Max(mm, conv), mm, conv);
    }

    public static string Load() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "";

    public static double Load1() => double.TryParse(Load(), CultureInfo.InvariantCulture, out var v) ? v : double.NaN;

    public static void Threads(BenchArgs args)
    {
        int threads = args.Int("threads", 2);
        set_num_threads(threads);
    }

    /// <summary>Sets the process-wide attention kernel from <c>--attention auto|sdpa|batched</c> (default auto); returns its name for the JSON.</summary>
    public static string Attention(BenchArgs args)
    {
        Maskwork.Backend.Nn.Attention.Kernel = Enum.Parse<Maskwork.Backend.Nn.AttentionKernel>(args.String("attention", "auto"), ignoreCase: true);
        return Maskwork.Backend.Nn.Attention.Kernel.ToString().ToLowerInvariant();
    }

    public static string PrecisionName(ScalarType t) => Precision.Name(t);
}
