using Maskwork.Backend.Nn;
using static TorchSharp.torch;

namespace Maskwork.Backend.Objectives;

/// <summary>
/// Chamfer distance between point sets, batched: <c>a</c> [B,N,D] and <c>b</c> [B,M,D]. The L2
/// variant is Point-BERT/Point-MAE's <c>ChamferDistanceL2</c> (mean squared nearest-neighbour
/// distance a→b plus b→a); the L1 variant averages the unsquared distances of both directions
/// and halves them (<c>ChamferDistanceL1</c>). Exact (brute force over all pairs); meant for the
/// small sets of a point group, not for whole scans.
/// </summary>
public static class Chamfer
{
    /// <summary>Squared distance of every point of <paramref name="a"/> to its nearest in <paramref name="b"/> [B,N], and back [B,M].</summary>
    public static (Tensor AToB, Tensor BToA) NearestSquared(Tensor a, Tensor b)
    {
        if (a.dim() != 3 || b.dim() != 3 || a.shape[0] != b.shape[0] || a.shape[2] != b.shape[2])
            throw new ArgumentException($"Chamfer needs [B,N,D] and [B,M,D], got [{string.Join(',', a.shape)}] and [{string.Join(',', b.shape)}]");
        if (a.shape[1] == 0 || b.shape[1] == 0) throw new ArgumentException("Chamfer distance of an empty point set is undefined");
        var d = (a.unsqueeze(2) - b.unsqueeze(1)).Squared().sum(-1); // [B,N,M]
        return (d.amin(2), d.amin(1));
    }

    /// <summary>Per-pair Chamfer-L2 [B]: mean_i min_j |a_i − b_j|² + mean_j min_i |a_i − b_j|².</summary>
    public static Tensor L2(Tensor a, Tensor b)
    {
        var (ab, ba) = NearestSquared(a, b);
        return ab.mean([1L]) + ba.mean([1L]);
    }

    /// <summary>Per-pair Chamfer-L1 [B]: (mean_i min_j |a_i − b_j| + mean_j min_i |a_i − b_j|) / 2.</summary>
    public static Tensor L1(Tensor a, Tensor b)
    {
        var (ab, ba) = NearestSquared(a, b);
        // Clamp before sqrt: the gradient of sqrt at an exact match would be infinite.
        return (ab.clamp_min(1e-12).sqrt().mean([1L]) + ba.clamp_min(1e-12).sqrt().mean([1L])) / 2;
    }
}
