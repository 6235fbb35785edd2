using Maskwork.Backend.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Maskwork.Backend.Objectives;

/// <summary>Losses shared by objectives.</summary>
public static class Losses
{
    static readonly Scalar Epsilon = 1e-6.ToScalar();

    /// <summary>Per-token mean and std over the feature axis (MAE norm-pix), std = sqrt(var + 1e-6).</summary>
    public static (Tensor Mean, Tensor Std) TokenStatistics(Tensor tokens)
    {
        var mean = tokens.mean([-1L], keepdim: true);
        var variance = tokens.var(-1L, unbiased: true, keepdim: true);
        return (mean, variance.add(Epsilon, Held.One).sqrt());
    }

    /// <summary>Mean over the <paramref name="masked"/> tokens [B,Nm] of the per-token mean squared error.</summary>
    public static Tensor MaskedMse(Tensor prediction, Tensor target, Tensor masked)
    {
        var p = TokenOps.Gather(prediction, masked);
        var t = TokenOps.Gather(target, masked);
        return (p - t).square().mean();
    }

    /// <summary>
    /// VideoMAE V2's loss under a decoder mask: per-token errors [B,Nm] of the <paramref name="masked"/> tokens
    /// count only where the token is also in <paramref name="kept"/> [B,Nd]; each sample's mean over those,
    /// then the mean over samples (samples weigh the same, so slices of a batch still sum).
    /// </summary>
    public static Tensor DecoderKeptMean(Tensor perToken, Tensor masked, Tensor kept, long tokens)
    {
        var inKept = zeros(kept.shape[0], tokens, dtype: perToken.dtype, device: perToken.device)
            .scatter(1, kept, ones(kept.shape, dtype: perToken.dtype, device: perToken.device));
        var w = inKept.gather(1, masked);
        var count = w.sum(1).clamp_min(Held.One);
        return perToken.mul(w).sum(1).div(count).mean();
    }

    /// <summary>
    /// The tokens a VideoMAE V2 decoder predicts: of <paramref name="masked"/> [B,Nm], those in <paramref name="kept"/>
    /// [B,Nd] first. Returns their token indices [B,M] (M = the batch's largest masked ∩ kept count) and weights [B,M]
    /// (1 for masked ∩ kept, 0 for the padding that evens out samples with fewer).
    /// </summary>
    public static (Tensor Queries, Tensor Weight) DecoderQueries(Tensor masked, Tensor kept, long tokens)
    {
        var inKept = zeros(kept.shape[0], tokens, dtype: ScalarType.Float32, device: kept.device)
            .scatter(1, kept, ones(kept.shape, dtype: ScalarType.Float32, device: kept.device));
        var w = inKept.gather(1, masked);
        long m = Math.Max(1, w.sum(1).max().item<float>() is var most ? (long)most : 0);
        var order = w.sort(1, descending: true, stable: true).Indices.narrow(1, 0, m);
        return (masked.gather(1, order), w.gather(1, order));
    }

    /// <summary>
    /// Hard Patches Mining's relative loss: for every pair (i, j) of a sample's tokens whose real losses differ,
    /// binary cross-entropy that sigmoid(p_j − p_i) says l_j &gt; l_i; each sample's mean over its pairs, then the
    /// mean over samples. Teaches the order of the losses, not their scale.
    /// </summary>
    public static Tensor RelativeOrder(Tensor predicted, Tensor real)
    {
        var d = predicted.unsqueeze(1) - predicted.unsqueeze(2); // [B,i,j] = p_j - p_i
        var greater = real.unsqueeze(1).gt(real.unsqueeze(2)).to_type(predicted.dtype);
        var less = real.unsqueeze(1).lt(real.unsqueeze(2)).to_type(predicted.dtype);
        var bce = greater.mul(nn.functional.softplus(d.neg())).Plus(less.mul(nn.functional.softplus(d)));
        var pairs = greater.Plus(less).sum([1L, 2L]).clamp_min(Held.One);
        return bce.sum([1L, 2L]).div(pairs).mean();
    }
}
