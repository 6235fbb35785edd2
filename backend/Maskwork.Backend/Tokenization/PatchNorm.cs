using Maskwork.Backend.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Maskwork.Backend.Tokenization;

/// <summary>Per-patch normalisation of reconstruction targets.</summary>
public static class PatchNorm
{
    static readonly Scalar Epsilon = 1e-6.ToScalar();

    /// <summary>MAE's norm-pix: each token standardised over all its values, std = sqrt(unbiased var + 1e-6). Returns the targets and the statistics to undo it.</summary>
    public static (Tensor Normalised, Tensor Mean, Tensor Std) NormPix(Tensor tokens)
    {
        var (mean, std) = Objectives.Losses.TokenStatistics(tokens);
        return ((tokens - mean) / std, mean, std);
    }

    /// <summary>
    /// VideoMAE's form: tokens [B,N,P·C] laid out (positions, channels) channels last; each channel of each
    /// token standardised over the token's P positions: (x − mean) / (sqrt(unbiased var) + 1e-6).
    /// </summary>
    public static Tensor PerChannel(Tensor tokens, int channels)
    {
        long b = tokens.shape[0], n = tokens.shape[1];
        var x = tokens.reshape(b, n, -1, channels);
        var mean = x.mean([-2L], keepdim: true);
        var std = x.var(-2L, unbiased: true, keepdim: true).sqrt().add(Epsilon, Held.One);
        return ((x - mean) / std).reshape(b, n, -1);
    }
}
