using Maskwork.Abstractions;
using Maskwork.Plugins.Lidar.Readers;
using Maskwork.Plugins.Lidar.Recipes;

namespace Maskwork.Plugins.Lidar;

/// <summary>The LiDAR modality: the <c>lidar</c> reader and the <c>lidar/r-mae</c> and <c>lidar/occupancy-mae</c> recipes.</summary>
public sealed class LidarPlugin : IModalityPlugin
{
    public PluginInfo Info { get; } = new("lidar", typeof(LidarPlugin).Assembly.GetName().Version?.ToString(3) ?? "0.0.0",
        "LiDAR scans: KITTI .bin / PCD / PLY, voxel grids, NetTopologySuite sensor sectors, R-MAE and Occupancy-MAE.");

    public void Register(IComponentRegistry registry)
    {
        registry.AddReader(new LidarReader());
        registry.AddRecipe(new LidarRecipe("lidar/r-mae",
            "R-MAE (Tayebati et al. 2024): radial masking of 80 % of the non-empty 1° sensor sectors, dense 3-D conv encoder, occupancy BCE on the masked voxels (occupied ×20); KITTI front view at 0.4 m",
            // The reference's loss (every voxel alike, model.visible_weight=1 model.pos_weight=0) mostly learns to copy
            // the visible voxels: on the shared scan it fills hidden sectors worse than the untrained model (bench lidar-rmae).
            new LidarOptions { PosWeight = 20, VisibleWeight = 0 }));
        registry.AddRecipe(new LidarRecipe("lidar/occupancy-mae",
            "Occupancy-MAE (Min et al. 2023): range-aware random masking of 90 % of the near occupied voxels (70 % beyond 30 m), occupancy BCE",
            new LidarOptions { Masker = "occupancy-mae", MaskRatio = 0.9 }));
    }
}
