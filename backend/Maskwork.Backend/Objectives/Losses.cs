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
}
