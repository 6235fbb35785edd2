using Maskwork.Backend.Nn;
using static TorchSharp.torch;

namespace Maskwork.Plugins.PointCloud.Tokenization;

/// <summary>
/// Batched point grouping as tensor ops on the points' device (Point-BERT/Point-MAE's Group module):
/// farthest-point sampling of centres, then the k nearest points of each centre.
/// </summary>
public static class PointGroups
{
    /// <summary>
    /// Farthest-point sampling: <paramref name="points"/> [B,N,3] → indices [B,G] (int64). Starts at
    /// point 0 (as pointnet2_ops does), then repeatedly takes the point farthest from all chosen
    /// ones; ties go to the lowest index. G steps of whole-batch tensor ops.
    /// </summary>
    public static Tensor FarthestPointSample(Tensor points, int count)
    {
        long b = points.shape[0], n = points.shape[1];
        if (count < 1 || count > n) throw new ArgumentOutOfRangeException(nameof(count), count, $"cannot sample {count} centres from {n} points");
        using var scope = NewDisposeScope();
        var selected = zeros(b, count, dtype: ScalarType.Int64, device: points.device);
        var nearest = full(b, n, float.PositiveInfinity, dtype: points.dtype, device: points.device);
        var farthest = zeros(b, dtype: ScalarType.Int64, device: points.device);
        for (int i = 0; i < count; i++)
        {
            selected[.., i] = farthest;
            var centre = points.gather(1, farthest.view(b, 1, 1).expand(b, 1, points.shape[2]));   // [B,1,3]
            nearest = minimum(nearest, (points - centre).Squared().sum(-1));
            farthest = nearest.argmax(1);
        }
        return selected.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Squared distances [B,G,N] of every centre to every point, exact (differences, not the
    /// |a|²+|b|²−2ab expansion, so near-ties order as a brute-force loop would).
    /// </summary>
    public static Tensor SquaredDistances(Tensor centres, Tensor points) =>
        (centres.unsqueeze(2) - points.unsqueeze(1)).Squared().sum(-1);

    /// <summary>Indices [B,G,K] of the <paramref name="k"/> nearest points to each centre, nearest first.</summary>
    public static Tensor KNearest(Tensor centres, Tensor points, int k)
    {
        if (k < 1 || k > points.shape[1]) throw new ArgumentOutOfRangeException(nameof(k), k, $"cannot take {k} neighbours among {points.shape[1]} points");
        using var scope = NewDisposeScope();
        var (_, index) = SquaredDistances(centres, points).topk(k, dim: 2, largest: false, sorted: true);
        return index.MoveToOuterDisposeScope();
    }

    /// <summary>Gathers points [B,N,C] at indices [B,...] → [B,...,C].</summary>
    public static Tensor Gather(Tensor points, Tensor index)
    {
        long b = points.shape[0], c = points.shape[2];
        var flat = index.reshape(b, -1);
        var picked = points.gather(1, flat.unsqueeze(-1).expand(b, flat.shape[1], c));
        return picked.reshape([.. index.shape, c]);
    }

    /// <summary>
    /// The whole grouping: centres [B,G,3] by FPS and neighbourhoods [B,G,K,3] relative to their
    /// centre, plus the neighbourhood indices [B,G,K] into <paramref name="points"/>.
    /// </summary>
    public static (Tensor Centres, Tensor Neighbourhoods, Tensor Index) Group(Tensor points, int groups, int groupSize)
    {
        using var scope = NewDisposeScope();
        var centres = Gather(points, FarthestPointSample(points, groups));
        var index = KNearest(centres, points, groupSize);
        var neighbourhoods = Gather(points, index) - centres.unsqueeze(2);
        return (centres.MoveToOuterDisposeScope(), neighbourhoods.MoveToOuterDisposeScope(), index.MoveToOuterDisposeScope());
    }
}
