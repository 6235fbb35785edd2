using System.ComponentModel;
using System.Globalization;
using Maskwork.Abstractions;
using Maskwork.Backend.Masking;
using Maskwork.Plugins.Lidar.Sensor;
using Maskwork.Plugins.Lidar.Masking;
using Maskwork.Plugins.Lidar.Model;
using Maskwork.Plugins.Lidar.Voxels;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Lidar.Recipes;

/// <summary>Model options of the <c>lidar/*</c> recipes (JSON snake_case, <c>--set model.voxel=0.4,0.4,0.4</c>).</summary>
public sealed record LidarOptions
{
    [Description("voxel grid box about the sensor, metres: xmin,ymin,zmin,xmax,ymax,zmax (KITTI front view: 0,-40,-3,70.4,40,1); the reader crops to it")]
    public double[] Range { get; init; } = [0, -40, -3, 70.4, 40, 1];
    [Description("voxel size vx,vy,vz in metres (each must divide its range)")]
    public double[] Voxel { get; init; } = [0.4, 0.4, 0.4];
    [Description("horizontal field of view in degrees, centred on the heading (KITTI's front view: 90; aerial tiles: 360)")]
    public double Fov { get; init; } = 90;
    [Description("direction the field of view is centred on, degrees from +x towards +y")]
    public double Heading { get; init; }
    [Description("ego-vehicle box xmin,ymin,xmax,ymax cut out of the region of interest (empty: none)")]
    public double[] EgoBox { get; init; } = [-2.5, -1.0, 2.5, 1.0];
    [Description("points kept per voxel (the first ones in file order; SECOND: 5)")]
    public int MaxPoints { get; init; } = 5;
    [Description("masker: radial (R-MAE) | radial-range (range-aware radial) | occupancy-mae (range-aware random voxels) | random (any voxels)")]
    public string Masker { get; init; } = "radial";
    [Description("share masked: of the non-empty sectors (radial), of the occupied voxels (occupancy-mae), of all voxels (random)")]
    public double MaskRatio { get; init; } = 0.8;
    [Description("angular width of a sector in degrees (R-MAE: 1; 5 and 10 ablated)")]
    public double SectorDegrees { get; init; } = 1;
    [Description("distance bands in metres for radial-range and occupancy-mae (Occupancy-MAE: 30,50)")]
    public double[] BandEdges { get; init; } = [30, 50];
    [Description("extra share the bands beyond the first keep (Occupancy-MAE: 0.2)")]
    public double FarBonus { get; init; } = 0.2;
    [Description("radial: when the kept sectors hold fewer than this share of the occupied voxels, keep this share of them at random instead")]
    public double FallbackShare { get; init; } = 0.1;
    [Description("encoder channels per stage (SECOND: 16,32,64,64)")]
    public int[] Channels { get; init; } = [16, 32, 64, 64];
    [Description("encoder stride per stage, 1 or 2 (SECOND: 1,2,2,2: ×8 down); the decoder has one ConvTranspose3d per 2")]
    public int[] Strides { get; init; } = [1, 2, 2, 2];
    [Description("BCE weight of occupied voxels; 0 = plain BCE on all voxels (the reference's)")]
    public double PosWeight { get; init; }
    [Description("BCE weight of the visible voxels relative to the masked ones: 1 = every voxel alike (the reference's), 0 = masked voxels only")]
    public double VisibleWeight { get; init; } = 1;
    [Description("training augmentation: chance of a flip across the x axis (y → −y)")]
    public double FlipProbability { get; init; } = 0.5;
    [Description("training augmentation: rotation about the vertical axis, ± degrees")]
    public double RotateDegrees { get; init; } = 45;
    [Description("training augmentation: smallest global scale")]
    public double ScaleMin { get; init; } = 0.95;
    [Description("training augmentation: largest global scale")]
    public double ScaleMax { get; init; } = 1.05;
    [Description("per-voxel label classes carried for probes (with data.labels=<ply property>); 0 = none")]
    public int Classes { get; init; }
    [Description("maskwork masks also writes the first scan's sectors and occupied cells here as GeoJSON (empty: no file)")]
    public string Geojson { get; init; } = "";

    /// <summary>The voxel grid these options describe.</summary>
    public LidarGrid Grid() => new(Range, Voxel);

    /// <summary>The sensor's field and sectors.</summary>
    public SensorField Field() => new(Fov, Heading, SectorDegrees, EgoBox);
}

/// <summary>
/// Masked occupancy pretraining on voxelised LiDAR scans: R-MAE (radial masking of sensor-centred sectors, Tayebati et
/// al. 2024) and Occupancy-MAE (range-aware random voxel masking, Min et al. 2023). The scan is voxelised (mean x, y,
/// z, intensity per voxel, SECOND's MeanVFE) with keyed global augmentation; the masker hides voxels; a dense 3-D conv
/// encoder (standing in for SECOND's sparse one) sees the visible voxels only; three ConvTranspose3d layers predict the
/// occupancy of every voxel, scored with BCE on all of them.
/// </summary>
public sealed class LidarRecipe(string name, string description, LidarOptions defaults) : IRecipe
{
    /// <summary>
    /// CPU defaults: 200 steps × 2 scans, Adam(W) lr 2e-3 (OpenPCDet's one-cycle peak is 3e-3), β 0.9/0.99, wd 0.01,
    /// 20 warm-up steps, clip 10 (OpenPCDet's).
    /// </summary>
    public static readonly TrainOptions CpuTraining = new()
    {
        Steps = 200, Batch = 2, Lr = 2e-3, WarmupSteps = 20, WeightDecay = 0.01, Beta1 = 0.9, Beta2 = 0.99,
        ClipGrad = 10, CheckpointEvery = 50, LogEvery = 10,
    };

    public string Name { get; } = name;
    public string Description { get; } = description;
    public string DefaultData => "lidar:../shared/datasets/lidar/kitti-000008.bin";
    public Type OptionsType => typeof(LidarOptions);
    public object DefaultOptions { get; } = defaults;
    public TrainOptions Training => CpuTraining;

    static string Join(IEnumerable<double> v) => string.Join(',', v.Select(x => x.ToString(CultureInfo.InvariantCulture)));

    public IReadOnlyDictionary<string, string> DataOptions(object options)
    {
        var o = (LidarOptions)options;
        return new Dictionary<string, string>
        {
            ["range"] = Join(o.Range),
            ["fov"] = o.Fov.ToString(CultureInfo.InvariantCulture),
            ["heading"] = o.Heading.ToString(CultureInfo.InvariantCulture),
        };
    }

    /// <summary>The masker <paramref name="o"/> names, on <paramref name="table"/>.</summary>
    public static IMasker Masker(LidarOptions o, SectorTable table) => o.Masker switch
    {
        "radial" => new RadialMasker(table, o.MaskRatio, [], o.FarBonus, o.FallbackShare),
        "radial-range" => new RadialMasker(table, o.MaskRatio, o.BandEdges, o.FarBonus, o.FallbackShare),
        "occupancy-mae" => new OccupancyMaeMasker(table, o.MaskRatio, o.BandEdges, o.FarBonus),
        "random" => new RandomMasker(o.MaskRatio),
        var other => throw new ArgumentException($"model.masker must be radial, radial-range, occupancy-mae or random, got '{other}'"),
    };

    public ModelParts Build(object options, BuildContext context)
    {
        var o = (LidarOptions)options;
        if (o.MaskRatio is < 0 or >= 1) throw new ArgumentException($"model.mask_ratio must be in [0, 1), got {o.MaskRatio}");
        if (o.MaxPoints <= 0) throw new ArgumentException($"model.max_points must be positive, got {o.MaxPoints}");
        if (o.BandEdges.Zip(o.BandEdges.Skip(1)).Any(p => p.First >= p.Second)) throw new ArgumentException("model.band_edges must increase");
        var grid = o.Grid();
        var table = SectorTable.For(grid, o.Field());
        // The augmentation seed comes from the run's generator (seeded with the run's seed before Build; resume seeds it the same).
        long seed;
        using (var draw = randint(long.MaxValue, [1], dtype: ScalarType.Int64)) seed = draw.item<long>();
        var tokenizer = new VoxelTokenizer(new Voxelizer(grid, o.MaxPoints, table), seed,
            new ScanAugment(o.FlipProbability, o.RotateDegrees, o.ScaleMin, o.ScaleMax), o.Classes);
        var encoder = new OccupancyEncoder(grid, Voxelizer.Channels, o.Channels, o.Strides);
        tokenizer.AugmentWhile = () => encoder.training;
        var objective = new OccupancyObjective(encoder, grid, o.PosWeight, o.VisibleWeight);
        var renderer = new BevRenderer(table) { GeoJsonPath = o.Geojson.Length == 0 ? null : o.Geojson };
        // A mean BCE over every voxel of equal-sized grids, per-sample keyed augmentation and masks, no global RNG in the
        // forward pass: slices of a batch may train on two workers.
        return new ModelParts(tokenizer, Masker(o, table), encoder, objective) { Renderer = renderer, MaskRenderer = renderer, IndependentSamples = true };
    }
}
