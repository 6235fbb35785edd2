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
    /// <summary>Two batched matmuls in the compute dtype around an fp32 softmax.</summary>
    Batched,
}

/// <summary>
/// Multi-head attention of q, k, v [B,H,N,d]. In bf16 the two matmuls run in bf16 while the softmax
/// (its max and sum statistics) runs in fp32, as autocast would do.
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
        double scale = 1.0 / Math.Sqrt(q.shape[^1]);
        var scores = matmul(q, k.transpose(-2, -1));
        var probs = (scores.to_type(ScalarType.Float32) * scale).softmax(-1);
        return matmul(probs.to_type(q.dtype), v).MoveToOuterDisposeScope();
    }
}
