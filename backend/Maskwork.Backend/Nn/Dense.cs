using Maskwork.Backend.Devices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Maskwork.Backend.Nn;

/// <summary>
/// A linear layer with fp32 master weights that multiplies in <see cref="Precision.Compute"/>.
/// Output is in the compute dtype; consumers that need fp32 (norms, losses) cast.
/// Xavier-uniform weights and zero bias, as MAE initialises its linears.
/// </summary>
public sealed class Dense : nn.Module<Tensor, Tensor>
{
    readonly Parameter weight;
    readonly Parameter? bias;

    public Dense(long inFeatures, long outFeatures, bool hasBias = true) : base(nameof(Dense))
    {
        weight = nn.Parameter(empty(outFeatures, inFeatures));
        nn.init.xavier_uniform_(weight);
        if (hasBias) bias = nn.Parameter(zeros(outFeatures));
        RegisterComponents();
    }

    public long OutFeatures => weight.shape[0];

    /// <summary>
    /// Run fp32 products on the CPU as a 1×1 convolution over channels-last tokens, which libtorch hands
    /// to oneDNN (AVX-512 on any vendor) instead of the BLAS sgemm behind <c>linear</c> (MKL picks a
    /// slower path on AMD CPUs): same fp32 arithmetic, measured 1.7–2.6× faster forward+backward on
    /// the MAE-Tiny shapes of the 2-core AMD EPYC bench machine (bench case <c>mae-ops</c>). Only with AVX-512: on an
    /// AVX2-only EPYC (Zen 3) oneDNN's 1×1 backward is the slower one (mae-ops fwd+bwd 27 vs 17 ms, 50 vs 35 ms;
    /// mae-step 1.45× slower), so there the default is <c>linear</c>.
    /// </summary>
    public static bool ConvolutionGemm { get; set; } = System.Runtime.Intrinsics.X86.Avx512F.IsSupported;

    public override Tensor forward(Tensor x)
    {
        var dt = Precision.Compute;
        if (dt == ScalarType.Float32 && x.dtype == ScalarType.Float32)
            return ConvolutionGemm && x.device_type == DeviceType.CPU && x.dim() >= 2 ? Pointwise(x) : nn.functional.linear(x, weight, bias);
        return nn.functional.linear(x.to_type(dt), weight.to_type(dt), bias?.to_type(dt));
    }

    /// <summary>
    /// x [..., K] → [..., N] as conv2d of a [1, K, M, 1] channels-last view with a [N, K, 1, 1] kernel (no copies for contiguous x).
    /// The dilation is a no-op for a 1×1 kernel but keeps libtorch on oneDNN when the calling thread runs
    /// single-threaded (slice workers): for an undilated 1×1 kernel, a batch under 16 and one thread it
    /// takes im2col + MKL sgemm instead, measured 100 vs 233 GFLOP/s here.
    /// </summary>
    Tensor Pointwise(Tensor x)
    {
        using var scope = NewDisposeScope();
        long k = x.shape[^1], n = weight.shape[0], m = x.numel() / k;
        var image = x.reshape(1, m, 1, k).permute(0, 3, 1, 2);
        var y = nn.functional.conv2d(image, weight.view(n, k, 1, 1), bias, dilation: [2, 1]);
        long[] outShape = [.. x.shape[..^1], n];
        return y.permute(0, 2, 3, 1).reshape(outShape).MoveToOuterDisposeScope();
    }
}

/// <summary>LayerNorm that always normalises in fp32, whatever the input dtype.</summary>
public sealed class Norm : nn.Module<Tensor, Tensor>
{
    readonly Parameter weight;
    readonly Parameter bias;
    readonly long[] shape;

    public Norm(long dim) : base(nameof(Norm))
    {
        weight = nn.Parameter(ones(dim));
        bias = nn.Parameter(zeros(dim));
        shape = [dim];
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) =>
        nn.functional.layer_norm(x.dtype == ScalarType.Float32 ? x : x.to_type(ScalarType.Float32), shape, weight, bias, 1e-6);
}
