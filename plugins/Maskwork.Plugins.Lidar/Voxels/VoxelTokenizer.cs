using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Plugins.Lidar.Sensor;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Lidar.Voxels;

/// <summary>
/// Global scan augmentation (SECOND / OpenPCDet's KITTI defaults): a flip across the x axis (y → −y), a rotation about
/// the vertical axis through the sensor and a uniform scaling, drawn from the sample's key (seed, epoch, global index).
/// </summary>
public sealed record ScanAugment(double FlipProbability = 0.5, double RotateDegrees = 45, double ScaleMin = 0.95, double ScaleMax = 1.05)
{
    public static readonly ScanAugment None = new(0, 0, 1, 1);

    /// <summary>The 3×3 transform A = scale · rotation · flip of a key (p' = A·p, column vectors).</summary>
    public double[,] Matrix(long key)
    {
        double flip = SampleRandom.Uniform(key, 0) < FlipProbability ? -1 : 1;
        double angle = (2 * SampleRandom.Uniform(key, 1) - 1) * RotateDegrees * Math.PI / 180;
        double scale = ScaleMin + SampleRandom.Uniform(key, 2) * (ScaleMax - ScaleMin);
        double c = Math.Cos(angle) * scale, s = Math.Sin(angle) * scale;
        return new[,] { { c, -s * flip, 0 }, { s, c * flip, 0 }, { 0, 0, scale } };
    }
}

/// <summary>
/// Scans [N, 4 or 5] → tokens [B, V, 5] on the voxel grid (layout z, y, x): occupancy, mean x, y, z (scaled to [0, 1]
/// over the range) and mean intensity per voxel (<see cref="Voxelizer"/>); with labelled points, their per-voxel majority
/// in <see cref="TokenBatch.Extras"/>["voxel_labels"] [B, V]. Augments while <see cref="AugmentWhile"/> says training,
/// keyed per sample, so it is a pure function of the samples and runs on the data thread.
/// </summary>
public sealed class VoxelTokenizer(Voxelizer voxelizer, long seed, ScanAugment augment, int classes = 0) : IBackgroundTokenizer
{
    public const string LabelsKey = "voxel_labels";

    public Voxelizer Voxelizer => voxelizer;
    public LidarGrid Grid => voxelizer.Grid;

    /// <summary>Whether to augment now (the recipe ties it to the encoder's training mode).</summary>
    public Func<bool> AugmentWhile { get; set; } = () => true;

    public TokenBatch Tokenize(IReadOnlyList<Sample> batch, Device device)
    {
        using var scope = NewDisposeScope();
        bool random = AugmentWhile();
        var features = new List<Tensor>(batch.Count);
        var labels = new List<Tensor>(batch.Count);
        for (int i = 0; i < batch.Count; i++)
        {
            var s = batch[i];
            if (s.Shape.Length != 2 || s.Shape[1] < 4)
                throw new InvalidDataFileException(s.Source, $"a LiDAR scan is [N, 4 or 5] (x, y, z, intensity[, label]), this one is [{string.Join(',', s.Shape)}]");
            var points = tensor(s.Values, [s.Shape[0], s.Shape[1]]);
            if (random && augment != ScanAugment.None)
            {
                var m = augment.Matrix(SampleRandom.Key(seed, s, 0, i));
                var t = tensor(new[] { m[0, 0], m[0, 1], m[0, 2], m[1, 0], m[1, 1], m[1, 2], m[2, 0], m[2, 1], m[2, 2] }, [3, 3], ScalarType.Float64);
                var xyz = points.narrow(1, 0, 3).to_type(ScalarType.Float64).matmul(t.t()).to_type(ScalarType.Float32);
                points = cat([xyz, points.narrow(1, 3, s.Shape[1] - 3)], 1);
            }
            var v = voxelizer.Apply(points, classes);
            features.Add(v.Features);
            if (v.Labels is { } l) labels.Add(l);
        }
        var tokens = new TokenBatch(stack(features).to(device), new GridLayout(Grid.Dims) { Axes = "z,y,x" });
        if (labels.Count == batch.Count) tokens = tokens with { Extras = new Dictionary<string, Tensor> { [LabelsKey] = stack(labels).to(device) } };
        // One scan repeats within a batch (augmentation makes the variety): key masks by (index, epoch) so repeats differ.
        if (batch.All(s => s.Index >= 0))
            tokens = tokens with { SampleKeys = tensor(batch.Select(s => SeedMix.Of(0x11da, s.Index, s.Epoch)).ToArray(), device: device) };
        scope.Detach(PreparedBatch.TensorsOf(tokens).Distinct(ReferenceEqualityComparer.Instance).Cast<IDisposable>().ToArray());
        return tokens;
    }

    /// <summary>Tokens [B, V, C] → grids [B, C, Z, Y, X].</summary>
    public Tensor Detokenize(Tensor tokens, TokenBatch like) =>
        tokens.permute(0, 2, 1).reshape(tokens.shape[0], tokens.shape[2], Grid.Z, Grid.Y, Grid.X);
}
