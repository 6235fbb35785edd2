using Maskwork.Abstractions;
using Maskwork.Plugins.Voxel.Readers;
using Maskwork.Plugins.Voxel.Recipes;

namespace Maskwork.Plugins.Voxel;

/// <summary>The voxel modality: binvox, NumPy and mesh-voxel readers, occupancy MAE (voxel/mae3d) and NeRF-MAE.</summary>
public sealed class VoxelPlugin : IModalityPlugin
{
    public PluginInfo Info { get; } = new("voxel", typeof(VoxelPlugin).Assembly.GetName().Version?.ToString(3) ?? "0.0.0",
        "Voxel and NeRF grids: binvox, .npy/.npz, OFF meshes voxelised (occupancy, RGB-α); occupancy MAE, NeRF-MAE.");

    public void Register(IComponentRegistry registry)
    {
        foreach (var input in Enum.GetValues<VoxelInput>()) registry.AddReader(new VoxelReader(input));
        registry.AddReader(new VoxelParquetReader());
        registry.AddRecipe(VoxelMaeRecipe.Mae3d());
        registry.AddRecipe(VoxelMaeRecipe.NerfMae());
    }
}
