using Maskwork.Abstractions;
using Maskwork.Backend.Masking;
using Maskwork.Backend.Nn;
using Maskwork.Plugins.Lidar.Sensor;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Lidar.Masking;

/// <summary>Per-voxel helpers the LiDAR maskers share: the grid's sector and distance band of every voxel.</summary>
static class VoxelTables
{
    /// <summary>Every voxel's sector [V] (−1 outside the region), from the bird's-eye table repeated over z.</summary>
    public static Tensor Sectors(SectorTable table, Device device) => table.CellSectors.repeat(table.Grid.Z).to(device);

    /// <summary>Every voxel's distance band [V]: 0 up to <paramref name="edges"/>[0] metres, 1 up to edges[1], …</summary>
    public static Tensor Bands(SectorTable table, double[] edges, Device device)
    {
        if (edges.Length == 0) return zeros(table.Grid.Voxels, dtype: ScalarType.Int64, device: device);
        var e = tensor(edges.Select(v => (float)v).ToArray());
        return bucketize(table.CellDistances, e, right: false).repeat(table.Grid.Z).to(device);
    }

    /// <summary>Each voxel's occupancy [B, V] (the tokenizer's first feature).</summary>
    public static Tensor Occupied(TokenBatch tokens) { using var k = new HeldScalars(); return tokens.Tokens.select(2, 0).gt(k[0.5]); }

    /// <summary>
    /// Keeps, in every row of <paramref name="candidates"/> [B, T], <paramref name="keep"/> [B] of the candidates chosen
    /// at random by <paramref name="noise"/> (uniform in [0, 1)): a per-row rank by noise, non-candidates ranked last.
    /// </summary>
    public static Tensor KeepRandom(Tensor candidates, Tensor noise, Tensor keep)
    {
        using var k = new HeldScalars();
        var score = noise.where(candidates, noise.add(k[2.0], Held.One));
        var rank = score.argsort(1).argsort(1);
        return rank.lt(keep.unsqueeze(1)).logical_and(candidates);
    }

    /// <summary>int(share · count) per row, as R-MAE and Occupancy-MAE take it.</summary>
    public static Tensor Share(Tensor count, double share) { using var k = new HeldScalars(); return count.to_type(ScalarType.Float64).mul(k[share]).floor().to_type(ScalarType.Int64); }
}

/// <summary>
/// R-MAE's radial masking (Tayebati et al. 2024) about the sensor: every voxel belongs to the angular sector its
/// bird's-eye cell falls in (the <see cref="SectorTable"/>, metric <c>atan2(y, x)</c> about the sensor, as the paper
/// describes, where the reference code measures angles from a corner of the voxel grid); sectors holding no occupied
/// voxel are dropped; <c>int((1 − ratio) · non-empty sectors)</c> of them, chosen per sample, stay visible and every
/// voxel of the others is masked. When the kept sectors hold fewer than <see cref="FallbackShare"/> of the sample's
/// occupied voxels, a random <see cref="FallbackShare"/> of its occupied voxels stays visible instead (R-MAE's 10 %
/// fallback). With <see cref="BandEdges"/> (metres) it is range-aware: each sector is split into distance bands and
/// every band keeps its own share of its non-empty pieces, the bands beyond the first <see cref="FarBonus"/> more
/// (Occupancy-MAE's +0.2), so the sparse far field keeps more of its points. Dense plan (<see cref="MaskPlan.Dense"/>).
/// </summary>
public sealed class RadialMasker(SectorTable table, double ratio, double[] bandEdges, double farBonus = 0.2, double fallbackShare = 0.1) : IMasker
{
    public double Ratio { get; } = ratio is >= 0 and < 1 ? ratio : throw new ArgumentOutOfRangeException(nameof(ratio), ratio, "mask ratio must be in [0, 1)");
    public double[] BandEdges => bandEdges;
    public double FarBonus => farBonus;
    public double FallbackShare => fallbackShare;
    public SectorTable Table => table;

    /// <summary>Share of the non-empty pieces band <paramref name="band"/> keeps.</summary>
    public double KeepShare(int band) => Math.Min(1, 1 - Ratio + (band > 0 ? FarBonus : 0));

    public MaskPlan Plan(TokenBatch tokens, MaskContext context)
    {
        // Held Scalars: this runs on slice workers beside the data thread (a GC freed an implicit one mid-call in gt_Scalar).
        using var held = new HeldScalars();
        if (tokens.TokenCount != table.Grid.Voxels) throw new ArgumentException($"radial masking needs the voxel grid's {table.Grid.Voxels} tokens, got {tokens.TokenCount}");
        var dev = tokens.Tokens.device;
        int bands = bandEdges.Length + 1, sectors = table.SectorCount;
        long b = tokens.BatchSize, v = tokens.TokenCount, pieces = (long)sectors * bands;
        var sector = VoxelTables.Sectors(table, dev);
        var band = VoxelTables.Bands(table, bandEdges, dev);
        // Piece = sector · bands + band; voxels outside the region go to one extra piece that is never kept.
        var piece = sector.mul(held.Int(bands)).add(band, Held.One).where(sector.ge(held.Int(0)), tensor(pieces, device: dev));
        var occupied = VoxelTables.Occupied(tokens);
        var index = piece.unsqueeze(0).expand(b, v);
        var filled = zeros(b, pieces + 1, device: dev).scatter_add_(1, index, occupied.to_type(ScalarType.Float32)).narrow(1, 0, pieces).gt(held[0]);
        var random = MaskRandom.For(tokens, context);
        var noise = random.Uniform(0, pieces);
        var kept = zeros(b, pieces, dtype: ScalarType.Bool, device: dev);
        for (int k = 0; k < bands; k++)
        {
            // The pieces of band k: columns k, k + bands, k + 2·bands, …
            var cols = arange(k, pieces, bands, dtype: ScalarType.Int64, device: dev);
            var candidates = filled.index_select(1, cols);
            var keep = VoxelTables.Share(candidates.sum(1), KeepShare(k));
            kept.index_copy_(1, cols, VoxelTables.KeepRandom(candidates, noise.index_select(1, cols), keep));
        }
        var visible = cat([kept, zeros(b, 1, dtype: ScalarType.Bool, device: dev)], 1).gather(1, index);
        // R-MAE's fallback: too few occupied voxels survive → a random share of them instead.
        var occupiedCount = occupied.sum(1);
        var survived = visible.logical_and(occupied).sum(1);
        var tooFew = survived.to_type(ScalarType.Float64).lt(occupiedCount.to_type(ScalarType.Float64).mul(held[fallbackShare])).logical_and(occupiedCount.gt(held.Int(0)));
        if (tooFew.any().item<bool>())
        {
            var fallback = VoxelTables.KeepRandom(occupied, random.Uniform(1, v), VoxelTables.Share(occupiedCount, fallbackShare).clamp_min(held.Int(1)));
            visible = fallback.where(tooFew.unsqueeze(1), visible);
        }
        return MaskPlan.FromDense(visible.logical_not());
    }

    /// <summary>Each sample's kept sectors [B, S] (true = visible) as the plan shows them: a sector is kept when any of its voxels is visible.</summary>
    public Tensor KeptSectors(MaskPlan plan)
    {
        var dense = plan.Dense ?? throw new ArgumentException("not a dense plan");
        using var held = new HeldScalars();
        var dev = dense.device;
        var sector = VoxelTables.Sectors(table, dev);
        var inside = sector.ge(held.Int(0));
        long b = dense.shape[0];
        var index = sector.where(inside, tensor((long)table.SectorCount, device: dev)).unsqueeze(0).expand(b, -1);
        return zeros(b, table.SectorCount + 1, device: dev).scatter_add_(1, index, dense.logical_not().to_type(ScalarType.Float32)).narrow(1, 0, table.SectorCount).gt(held.Int(0));
    }
}

/// <summary>
/// Occupancy-MAE's range-aware random masking (Min et al. 2023) in metres: the occupied voxels are split by their
/// horizontal distance from the sensor into bands (≤ 30 m, 30–50 m, &gt; 50 m); the nearest band keeps
/// <c>int((1 − ratio) · n)</c> of its occupied voxels at random, the farther ones <c>int((1 − ratio + 0.2) · n)</c>.
/// The dropped occupied voxels are the mask (empty voxels hide nothing). Dense plan.
/// </summary>
public sealed class OccupancyMaeMasker(SectorTable table, double ratio, double[] bandEdges, double farBonus = 0.2) : IMasker
{
    public double Ratio { get; } = ratio is >= 0 and < 1 ? ratio : throw new ArgumentOutOfRangeException(nameof(ratio), ratio, "mask ratio must be in [0, 1)");

    public MaskPlan Plan(TokenBatch tokens, MaskContext context)
    {
        if (tokens.TokenCount != table.Grid.Voxels) throw new ArgumentException($"occupancy-mae masking needs the voxel grid's {table.Grid.Voxels} tokens, got {tokens.TokenCount}");
        using var held = new HeldScalars();
        var dev = tokens.Tokens.device;
        var band = VoxelTables.Bands(table, bandEdges, dev).unsqueeze(0);
        var occupied = VoxelTables.Occupied(tokens);
        var noise = MaskRandom.For(tokens, context).Uniform(0, tokens.TokenCount);
        var visible = zeros_like(occupied);
        for (int k = 0; k <= bandEdges.Length; k++)
        {
            var candidates = occupied.logical_and(band.eq(held.Int(k)));
            double share = Math.Min(1, 1 - Ratio + (k > 0 ? farBonus : 0));
            visible = visible.logical_or(VoxelTables.KeepRandom(candidates, noise, VoxelTables.Share(candidates.sum(1), share)));
        }
        return MaskPlan.FromDense(occupied.logical_and(visible.logical_not()));
    }
}
