using Maskwork.Backend.Nn;
using Maskwork.Abstractions;
using Maskwork.Plugins.Lidar.Sensor;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Lidar.Model;

/// <summary>The dense voxel mask [B, V] (true = masked) of either kind of plan: a dense one as it is, an index-set one scattered.</summary>
public static class DenseMask
{
    public static Tensor Of(MaskPlan plan, TokenBatch tokens)
    {
        if (plan.Dense is { } d) return d;
        var mask = zeros(tokens.BatchSize, tokens.TokenCount, dtype: ScalarType.Bool, device: tokens.Tokens.device);
        return plan.Masked.shape[1] == 0 ? mask : mask.scatter(1, plan.Masked, ones(plan.Masked.shape, dtype: ScalarType.Bool, device: mask.device));
    }
}

/// <summary>GroupNorm with its affine parameters set explicitly (TorchSharp 0.107 can leave the bias uninitialised: NaN found in tests).</summary>
static class Norms
{
    public static GroupNorm Group(int channels)
    {
        var norm = nn.GroupNorm(Math.Min(8, channels), channels);
        using var _ = no_grad();
        nn.init.ones_(norm.weight!);
        nn.init.zeros_(norm.bias!);
        return norm;
    }
}

/// <summary>
/// A dense 3-D convolutional encoder standing in for SECOND's sparse one (no sparse convolutions in libtorch's CPU
/// build): an input convolution and one convolution per stage (16-32-64-64 channels, strides 1-2-2-2: ×8 down), each
/// with GroupNorm (batches of a few scans are too small for BatchNorm's statistics) and ReLU. The masked voxels are
/// removed from its input (their features zeroed: the grid is dense, so "removed" is "empty").
/// </summary>
public sealed class OccupancyEncoder : nn.Module, IEncoder
{
    readonly ModuleList<nn.Module<Tensor, Tensor>> stages = new();
    readonly LidarGrid grid;
    readonly int[] strides;

    public OccupancyEncoder(LidarGrid grid, int inChannels, int[] channels, int[] strides) : base(nameof(OccupancyEncoder))
    {
        if (channels.Length == 0 || channels.Length != strides.Length) throw new ArgumentException($"model.channels and model.strides need the same non-zero length, got {channels.Length} and {strides.Length}");
        this.grid = grid;
        this.strides = strides;
        int c = inChannels;
        for (int i = 0; i < channels.Length; i++)
        {
            if (strides[i] is not (1 or 2)) throw new ArgumentException($"model.strides are 1 or 2, got {strides[i]}");
            stages.Add(nn.Sequential(
                nn.Conv3d(c, channels[i], 3, stride: strides[i], padding: 1, bias: false),
                Norms.Group(channels[i]),
                nn.ReLU()));
            c = channels[i];
        }
        Dim = c;
        RegisterComponents();
    }

    public int Dim { get; }

    /// <summary>The per-axis downsampling of the last stage (product of the strides).</summary>
    public int Stride => strides.Aggregate(1, (a, s) => a * s);

    /// <summary>The strides, for the decoder's upsampling.</summary>
    public IReadOnlyList<int> Strides => strides;

    /// <summary>The masked input grid [B, C, Z, Y, X]: the tokens with masked voxels emptied.</summary>
    public Tensor Input(TokenBatch tokens, MaskPlan plan)
    {
        var keep = DenseMask.Of(plan, tokens).logical_not().unsqueeze(-1).to_type(tokens.Tokens.dtype);
        var x = tokens.Tokens.mul(keep);
        return x.permute(0, 2, 1).reshape(tokens.BatchSize, tokens.Tokens.shape[2], grid.Z, grid.Y, grid.X);
    }

    /// <summary>Every stage's output map [B, Ci, …], first to last.</summary>
    public List<Tensor> Stages(Tensor input)
    {
        var maps = new List<Tensor>(stages.Count);
        var x = input;
        foreach (var s in stages) maps.Add(x = s.call(x));
        return maps;
    }

    /// <summary>The last stage's map [B, D, z, y, x].</summary>
    public Tensor Map(TokenBatch tokens, MaskPlan plan) => Stages(Input(tokens, plan))[^1];

    /// <summary>Latent cells [B, z·y·x, D] of the last stage (the objective reshapes them with <see cref="Map"/>'s dims).</summary>
    public Encoded Encode(TokenBatch tokens, MaskPlan plan)
    {
        var map = Map(tokens, plan);
        return new Encoded(map.flatten(2).transpose(1, 2)) { Global = map.mean([2L, 3L, 4L]) };
    }

    /// <summary>The last map's spatial dims for the grid: ceil-halved once per stride-2 stage.</summary>
    public long[] MapDims()
    {
        long z = grid.Z, y = grid.Y, x = grid.X;
        foreach (var s in strides) if (s == 2) { z = (z + 1) / 2; y = (y + 1) / 2; x = (x + 1) / 2; }
        return [z, y, x];
    }

    /// <summary>Per-voxel features [B, V, ΣCi]: every stage's map upsampled (nearest) back to the grid and concatenated (probes).</summary>
    public Tensor VoxelFeatures(TokenBatch tokens, MaskPlan plan)
    {
        var maps = Stages(Input(tokens, plan));
        var up = maps.Select(m => m.shape[2] == grid.Z && m.shape[3] == grid.Y && m.shape[4] == grid.X ? m
            : nn.functional.interpolate(m, [grid.Z, grid.Y, grid.X], mode: InterpolationMode.Nearest)).ToList();
        var all = cat(up, 1);
        return all.flatten(2).transpose(1, 2);
    }
}

/// <summary>
/// Occupancy-MAE / R-MAE's objective: a decoder of ConvTranspose3d layers (one per stride-2 encoder stage, channels
/// halving, the last giving one logit per voxel) back to the grid, and binary cross-entropy on the occupancy of ALL
/// voxels (masked and visible, occupied and empty, as the reference does); <see cref="PosWeight"/> &gt; 0 weighs occupied
/// voxels up (an option: about 1 % of the grid is occupied); <see cref="VisibleWeight"/> &lt; 1 weighs the visible voxels
/// down (0: the loss is on the masked voxels only, as MAE's is), since copying the visible occupancy through is easy
/// and dominates the all-voxel loss.
/// </summary>
public sealed class OccupancyObjective : nn.Module, IObjective
{
    readonly ModuleList<nn.Module<Tensor, Tensor>> layers = new();
    readonly long[] mapDims;
    readonly LidarGrid grid;

    /// <summary>The decoder for <paramref name="encoder"/>'s output (it keeps only its shape: the encoder's parameters stay the encoder's).</summary>
    public OccupancyObjective(OccupancyEncoder encoder, LidarGrid grid, double posWeight, double visibleWeight = 1) : base(nameof(OccupancyObjective))
    {
        if (visibleWeight is < 0 or > 1) throw new ArgumentException($"model.visible_weight must be in [0, 1], got {visibleWeight}");
        VisibleWeight = visibleWeight;
        mapDims = encoder.MapDims();
        this.grid = grid;
        PosWeight = posWeight;
        int ups = encoder.Strides.Count(s => s == 2);
        if (ups == 0) throw new ArgumentException("the encoder needs at least one stride-2 stage for the decoder to upsample");
        int c = encoder.Dim;
        for (int i = 0; i < ups; i++)
        {
            bool last = i == ups - 1;
            int next = last ? 1 : Math.Max(8, c / 2);
            var up = nn.ConvTranspose3d(c, next, 3, stride: 2, padding: 1, output_padding: 1, bias: last);
            layers.Add(last ? nn.Sequential(up) : nn.Sequential(up, Norms.Group(next), nn.ReLU()));
            c = next;
        }
        RegisterComponents();
    }

    public double PosWeight { get; }

    /// <summary>BCE weight of the visible voxels relative to the masked ones (1: every voxel alike, the reference's loss).</summary>
    public double VisibleWeight { get; }

    /// <summary>Occupancy logits [B, V] from the encoding.</summary>
    public Tensor Logits(Encoded encoded)
    {
        var dims = mapDims;
        var x = encoded.Latent.transpose(1, 2).reshape(encoded.Latent.shape[0], encoded.Latent.shape[2], dims[0], dims[1], dims[2]);
        foreach (var l in layers) x = l.call(x);
        // Ceil-halving then doubling can overshoot an odd axis: crop back to the grid.
        x = x.narrow(2, 0, grid.Z).narrow(3, 0, grid.Y).narrow(4, 0, grid.X);
        return x.flatten(1);
    }

    public ObjectiveResult Compute(TokenBatch tokens, MaskPlan plan, Encoded encoded)
    {
        var logits = Logits(encoded).to_type(ScalarType.Float32);
        var target = tokens.Tokens.select(2, 0).to_type(ScalarType.Float32);
        Tensor? weight = PosWeight > 0 ? tensor((float)PosWeight, device: logits.device) : null;
        Tensor loss;
        if (VisibleWeight >= 1) loss = nn.functional.binary_cross_entropy_with_logits(logits, target, pos_weights: weight);
        else
        {
            // A weighted mean: masked voxels weigh 1, visible ones VisibleWeight.
            using var k = new HeldScalars();
            var each = nn.functional.binary_cross_entropy_with_logits(logits, target, pos_weights: weight, reduction: nn.Reduction.None);
            var w = DenseMask.Of(plan, tokens).to_type(ScalarType.Float32).mul(k[1 - VisibleWeight]).Plus(full_like(logits, k[VisibleWeight]));
            loss = each.mul(w).sum().div(w.sum().clamp_min(k[1e-6]));
        }
        var probability = logits.detach().sigmoid();
        var reconstruction = cat([probability.unsqueeze(-1), tokens.Tokens.narrow(2, 1, tokens.Tokens.shape[2] - 1)], 2);
        return new ObjectiveResult(loss)
        {
            Metrics = new Dictionary<string, Tensor> { ["bce"] = loss.detach() },
            Reconstruction = reconstruction,
        };
    }
}
