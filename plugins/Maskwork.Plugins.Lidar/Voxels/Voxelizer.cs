using Maskwork.Backend.Nn;
using Maskwork.Plugins.Lidar.Sensor;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Lidar.Voxels;

/// <summary>
/// Points → a voxel grid in tensor ops (no per-point loops): each point's voxel index, the first
/// <see cref="MaxPointsPerVoxel"/> points of each voxel in file order (SECOND's bound; a stable sort and a rank within
/// each run of equal indices), then per-voxel counts (<c>bincount</c>), the mean of x, y, z and intensity
/// (<c>index_add</c>, SECOND's MeanVFE) and, with a label column, each voxel's majority label.
/// Points outside the grid, or in a bird's-eye cell outside the region of interest (a <see cref="SectorTable"/>), are dropped.
/// </summary>
public sealed class Voxelizer(LidarGrid grid, int maxPointsPerVoxel, SectorTable? region = null)
{
    public LidarGrid Grid => grid;
    public int MaxPointsPerVoxel => maxPointsPerVoxel;

    /// <summary>Features per voxel in <see cref="Voxels.Features"/>: occupancy, then mean x, y, z scaled to [0, 1] over the range, then mean intensity.</summary>
    public const int Channels = 5;

    /// <summary>One scan's grid: <see cref="Features"/> [V, 5] and, when the points carried labels, <see cref="Labels"/> [V] (−1 = no labelled point).</summary>
    public sealed record Voxels(Tensor Features, Tensor Counts, Tensor? Labels);

    /// <summary>Voxelises points [N, C ≥ 4] (x, y, z, intensity, optional label) in metres about the sensor.</summary>
    public Voxels Apply(Tensor points, int classes = 0)
    {
        // Runs on the data thread beside training: every constant is a held Scalar (Nn/Held.cs), since a GC there
        // freed an implicit one mid-call (clamp_min's "toDouble" crash in a b9 bench run).
        using var k = new HeldScalars();
        var r = grid.Range;
        var v = grid.Voxel;
        var xyz = points.narrow(1, 0, 3).to_type(ScalarType.Float64);
        var min = tensor(new[] { r[0], r[1], r[2] }, ScalarType.Float64);
        var size = tensor(v, ScalarType.Float64);
        var index = xyz.sub(min).div(size).floor().to_type(ScalarType.Int64); // [N, 3] ix, iy, iz
        var dims = tensor(new long[] { grid.X, grid.Y, grid.Z });
        var inside = index.ge(k.Int(0)).logical_and(index.lt(dims)).all(1);
        var idx = index[inside];
        var kept = points[inside];
        var cell = idx.select(1, 1).mul(k.Int(grid.X)).add(idx.select(1, 0), Held.One);
        if (region is not null)
        {
            var inRegion = region.CellSectors.index_select(0, cell).ge(k.Int(0));
            idx = idx[inRegion];
            kept = kept[inRegion];
            cell = cell[inRegion];
        }
        long voxels = grid.Voxels;
        var linear = idx.select(1, 2).mul(k.Int(grid.Cells)).add(cell, Held.One);
        if (linear.shape[0] > 0)
        {
            // The first k points of each voxel: a stable sort keeps file order within a voxel.
            var (sorted, order) = linear.sort(0, false, true);
            var counts = unique_consecutive(sorted, return_inverse: false, return_counts: true).Item3!;
            var starts = counts.cumsum(0).sub(counts);
            var rank = arange(sorted.shape[0], dtype: ScalarType.Int64).sub(starts.repeat_interleave(counts));
            var take = order[rank.lt(k.Int(maxPointsPerVoxel))];
            linear = linear.index_select(0, take);
            kept = kept.index_select(0, take);
        }
        var count = bincount(linear, minlength: voxels).to_type(ScalarType.Float32);
        var scale = tensor(new float[] { (float)(r[3] - r[0]), (float)(r[4] - r[1]), (float)(r[5] - r[2]) });
        var minF = tensor(new float[] { (float)r[0], (float)r[1], (float)r[2] });
        var values = cat([kept.narrow(1, 0, 3).to_type(ScalarType.Float32).sub(minF).div(scale), kept.narrow(1, 3, 1).to_type(ScalarType.Float32)], 1);
        var sums = zeros(voxels, 4).index_add_(0, linear, values, Held.One);
        var mean = sums.div(count.clamp_min(Held.One).unsqueeze(1));
        var features = cat([count.gt(k[0]).to_type(ScalarType.Float32).unsqueeze(1), mean], 1);
        Tensor? labels = null;
        if (points.shape[1] >= 5 && classes > 0)
        {
            var label = kept.select(1, 4).round().to_type(ScalarType.Int64);
            var known = label.ge(k.Int(0)).logical_and(label.lt(k.Int(classes)));
            var votes = zeros(voxels * classes, dtype: ScalarType.Float32)
                .index_add_(0, linear[known].mul(k.Int(classes)).add(label[known], Held.One), ones(known.sum().item<long>(), dtype: ScalarType.Float32), Held.One)
                .view(voxels, classes);
            var (top, arg) = votes.max(1);
            labels = arg.where(top.gt(k[0]), tensor(-1L));
        }
        return new Voxels(features, count, labels);
    }
}
