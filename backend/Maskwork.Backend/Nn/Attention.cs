using Maskwork.Backend.Devices;
using TorchSharp;
using static TorchSharp.torch;

namespace Maskwork.Backend.Nn;

/// <summary>How <see cref="Attention.Compute"/> runs.</summary>
public enum AttentionKernel
{
    /// <summary>SDPA in fp32; the batched kernel in lower precision on the CPU (measured faster there for short sequences).</summary>
    Auto,
    /// <summary>Always <c>scaled_dot_product_attention</c>.</summary>
    Sdpa,
    /// <summary>Two batched matmuls and a softmax (fp32 statistics) in the compute dtype.</summary>
    Batched,
}

/// <summary>
/// Multi-head attention of q, k, v [B,H,N,d]. In bf16 the two matmuls and the softmax run in bf16;
/// libtorch's CPU softmax keeps its max and sum statistics in fp32 and rounds only its output, the
/// same numbers autocast gets by casting the scores to fp32 and the probabilities back (measured
/// within one bf16 ulp), without the two casts and their backward passes.
/// </summary>
public static class Attention
{
    /// <summary>Process-wide choice (benchmarks flip it to compare).</summary>
    public static AttentionKernel Kernel { get; set; } = AttentionKernel.Auto;

    public static Tensor Compute(Tensor q, Tensor k, Tensor v)
    {
        bool batched = Kernel switch
        {
            AttentionKernel.Sdpa => false,
            AttentionKernel.Batched => true,
            _ => q.dtype != ScalarType.Float32 && q.device_type == DeviceType.CPU,
        };
        if (!batched) return nn.functional.scaled_dot_product_attention(q, k, v);
        using var scope = NewDisposeScope();
        using var scale = (1.0 / Math.Sqrt(q.shape[^1])).ToScalar(); // held: an implicit Scalar may be finalised mid-call
        long n = q.shape[^2], d = q.shape[^1];
        // Scale whichever is smaller, q [.., N, d] or the scores [.., N, N].
        var scores = n <= d ? matmul(q, k.transpose(-2, -1)).mul(scale) : matmul(q.mul(scale), k.transpose(-2, -1));
        return matmul(scores.softmax(-1), v).MoveToOuterDisposeScope();
    }
}
