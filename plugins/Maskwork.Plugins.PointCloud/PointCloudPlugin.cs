using Maskwork.Abstractions;
using Maskwork.Plugins.PointCloud.Readers;
using Maskwork.Plugins.PointCloud.Recipes;

namespace Maskwork.Plugins.PointCloud;

/// <summary>The point-cloud modality: PLY/PCD/OFF/XYZ/KITTI readers, image-derived benchmark clouds, Point-MAE.</summary>
public sealed class PointCloudPlugin : IModalityPlugin
{
    public PluginInfo Info { get; } = new("points", typeof(PointCloudPlugin).Assembly.GetName().Version?.ToString(3) ?? "0.0.0",
        "Point clouds: PLY, PCD (LZF), OFF meshes, XYZ, KITTI .bin; FPS+kNN groups; Point-MAE.");

    public void Register(IComponentRegistry registry)
    {
        registry.AddReader(new PointCloudReader());
        foreach (var format in Enum.GetValues<PointFormat>()) registry.AddReader(new PointCloudReader(format));
        registry.AddReader(new PointParquetReader());
        registry.AddReader(new ImagePointsReader("fashion-mnist-points", "fashion-mnist"));
        registry.AddReader(new ImagePointsReader("mnist-points", "mnist"));
        registry.AddRecipe(new PointMaeRecipe());
    }
}
