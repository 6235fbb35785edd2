using Maskwork.Backend.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Maskwork.Backend.Training;

/// <summary>How teacher features are normalised before they become targets.</summary>
public enum TargetNorm
{
    /// <summary>As they are.</summary>
    None,
    /// <summary>Per token over the feature axis, no affine (data2vec's and MaskAlign's layer norm of the targets).</summary>
    Layer,
    /// <summary>Per sample and channel over the tokens (data2vec's instance norm of each layer before averaging).</summary>
    Instance,
}

/// <summary>The distance between predicted and target features.</summary>
public enum FeatureLoss
{
    /// <summary>Mean squared error per feature.</summary>
    Mse,
    /// <summary>Huber with β = 1 per feature (data2vec).</summary>
    SmoothL1,
    /// <summary>1 − cosine similarity per token (MaskAlign, BYOL-style).</summary>
    Cosine,
}

/// <summary>
/// Which teacher features become the targets: <paramref name="TopK"/> &gt; 0 averages the outputs of the last K blocks,
/// each normalised first (data2vec); otherwise <paramref name="Layer"/> picks one: 0 = the encoder's final (normed)
/// output, n = the output of block n (1-based; DMAE's intermediate features), negative = counted from the last block.
/// </summary>
public sealed record TargetSpec(int Layer = 0, int TopK = 0, TargetNorm Norm = TargetNorm.Layer)
{
    /// <summary>Whether the spec needs the outputs of the blocks (not only the final one).</summary>
    public bool NeedsBlocks => TopK > 0 || Layer != 0;

    /// <summary>Refuses a spec that the encoder of <paramref name="depth"/> blocks cannot give.</summary>
    public void Check(int depth)
    {
        if (TopK < 0 || TopK > depth) throw new ArgumentException($"target top_k={TopK}: the teacher has {depth} blocks (use 1..{depth}, or 0 for one layer)");
        if (TopK == 0 && (Layer > depth || Layer < -depth)) throw new ArgumentException($"target layer={Layer}: the teacher has {depth} blocks (use 1..{depth}, -1..-{depth}, or 0 for its final output)");
    }
}

/// <summary>Target features from a teacher's layers, their normalisations and the feature losses (data2vec, MaskAlign, MR-MAE, DMAE).</summary>
public static class FeatureTargets
{
    static readonly Scalar LayerEps = 1e-6.ToScalar(), InstanceEps = 1e-5.ToScalar();

    /// <summary>Normalises features [B,N,D] in float32: <see cref="TargetNorm.Layer"/> over D, <see cref="TargetNorm.Instance"/> over N.</summary>
    public static Tensor Normalize(Tensor x, TargetNorm norm)
    {
        x = x.to_type(ScalarType.Float32);
        return norm switch
        {
            TargetNorm.None => x,
            TargetNorm.Layer => nn.functional.layer_norm(x, [x.shape[^1]], eps: 1e-6),
            TargetNorm.Instance => Standardize(x, 1, InstanceEps),
            _ => throw new ArgumentOutOfRangeException(nameof(norm), norm, null),
        };
    }

    static Tensor Standardize(Tensor x, long dim, Scalar eps)
    {
        var mean = x.mean([dim], keepdim: true);
        var variance = x.var(dim, unbiased: false, keepdim: true);
        return (x - mean).div(variance.add(eps, Held.One).sqrt());
    }

    /// <summary>The targets [B,N,D] from an encoder's final output and its block outputs, as <paramref name="spec"/> says.</summary>
    public static Tensor Build(Tensor final, IReadOnlyList<Tensor> blocks, TargetSpec spec)
    {
        if (spec.TopK > 0)
        {
            if (spec.TopK > blocks.Count) throw new ArgumentException($"top_k={spec.TopK} but only {blocks.Count} block outputs");
            Tensor? sum = null;
            for (int i = blocks.Count - spec.TopK; i < blocks.Count; i++)
            {
                var n = Normalize(blocks[i], spec.Norm);
                sum = sum is null ? n : sum.Plus(n);
            }
            using var k = ((double)spec.TopK).ToScalar();
            return sum!.div(k);
        }
        if (spec.Layer == 0) return Normalize(final, spec.Norm);
        int index = spec.Layer > 0 ? spec.Layer - 1 : blocks.Count + spec.Layer;
        if (index < 0 || index >= blocks.Count) throw new ArgumentException($"layer {spec.Layer} but {blocks.Count} block outputs");
        return Normalize(blocks[index], spec.Norm);
    }

    /// <summary>The mean over tokens of <paramref name="kind"/> between <paramref name="prediction"/> and <paramref name="target"/> [B,K,D].</summary>
    public static Tensor Loss(Tensor prediction, Tensor target, FeatureLoss kind)
    {
        prediction = prediction.to_type(ScalarType.Float32);
        target = target.to_type(ScalarType.Float32);
        return kind switch
        {
            FeatureLoss.Mse => (prediction - target).Squared().mean(),
            FeatureLoss.SmoothL1 => nn.functional.smooth_l1_loss(prediction, target),
            FeatureLoss.Cosine => nn.functional.cosine_similarity(prediction, target, dim: -1, eps: 1e-6).mean().neg().add(Held.One),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
        };
    }

    /// <summary>Parses a loss name: mse, smooth_l1 (or smooth-l1), cosine.</summary>
    public static FeatureLoss ParseLoss(string name) => name.Replace('-', '_').ToLowerInvariant() switch
    {
        "mse" or "l2" => FeatureLoss.Mse,
        "smooth_l1" or "huber" => FeatureLoss.SmoothL1,
        "cosine" or "cos" => FeatureLoss.Cosine,
        _ => throw new ArgumentException($"unknown feature loss '{name}': use mse, smooth_l1 or cosine"),
    };

    /// <summary>Parses a target normalisation name: layer, instance, none.</summary>
    public static TargetNorm ParseNorm(string name) => name.ToLowerInvariant() switch
    {
        "layer" or "layer_norm" or "ln" => TargetNorm.Layer,
        "instance" or "instance_norm" or "in" => TargetNorm.Instance,
        "none" => TargetNorm.None,
        _ => throw new ArgumentException($"unknown target normalisation '{name}': use layer, instance or none"),
    };
}
