using TorchSharp;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Graph.Nn;

/// <summary>Message passing over an edge list with tensor ops only (gather, scatter-max, index_add): no per-edge loops.</summary>
public static class MessagePassing
{
    /// <summary>
    /// Scalars held for the process's lifetime. A temporary TorchSharp <c>Scalar</c> passed to a long native call can be
    /// finalized by the GC while the call still reads it (seen as "Expected false to be true … toFloat" in index_fill_
    /// under memory pressure); hot paths here pass these instead.
    /// </summary>
    internal static readonly Scalar One = 1.ToScalar(), Zero = 0.ToScalar(), MinusOne = (-1).ToScalar();

    /// <summary>
    /// Softmax of <paramref name="scores"/> [E, H] over the edges that share a target in <paramref name="target"/> [E]
    /// (DGL's edge_softmax): exp(s − max) / Σ exp(s − max) per (target, head). The max is a constant for the gradient.
    /// </summary>
    public static Tensor EdgeSoftmax(Tensor scores, Tensor target, long nodes)
    {
        Tensor max;
        using (no_grad()) max = SegmentMax(scores.detach(), target, nodes).index_select(0, target);
        var exp = (scores - max).exp();
        var sum = zeros(nodes, scores.shape[1], dtype: scores.dtype, device: scores.device).index_add(0, target, exp, One);
        return exp / sum.index_select(0, target);
    }

    /// <summary>
    /// Per-target maximum of <paramref name="values"/> [E, H] over the edges into each node ([N, H], 0 where a node has no
    /// incoming edge), with sorts instead of a scatter-max (which TorchSharp does not bind): order each column by value,
    /// then stably by target, so each target's edges end with their largest value.
    /// </summary>
    public static Tensor SegmentMax(Tensor values, Tensor target, long nodes)
    {
        long e = values.shape[0], h = values.shape[1];
        if (e == 0) return zeros(nodes, h, dtype: values.dtype, device: values.device);
        var byValue = values.sort(0).Indices;                                            // [E,H]
        var byTarget = target.index_select(0, byValue.view(-1)).view(e, h).sort(0, stable: true).Indices;
        var sorted = values.gather(0, byValue.gather(0, byTarget));                       // grouped by target, ascending within
        var degree = zeros(nodes, dtype: ScalarType.Int64, device: values.device).index_add(0, target, ones_like(target), One);
        var last = degree.cumsum(0).sub_(One).clamp_min(Zero);
        var max = sorted.index_select(0, last);
        return max.masked_fill(degree.eq(Zero).unsqueeze(1), Zero);
    }

    /// <summary>
    /// out[v] = Σ over edges (u→v) of weight[e] · values[u]: <paramref name="values"/> [N, H, F],
    /// <paramref name="weights"/> [E, H] → [N, H, F].
    /// </summary>
    public static Tensor Aggregate(Tensor values, Tensor weights, Tensor source, Tensor target, long nodes)
    {
        var messages = values.index_select(0, source) * weights.unsqueeze(-1);
        return zeros([nodes, .. values.shape[1..]], dtype: messages.dtype, device: values.device).index_add(0, target, messages, One);
    }
}
