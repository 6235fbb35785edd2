using Maskwork.Abstractions;
using Maskwork.Plugins.Volume.Readers;
using Maskwork.Plugins.Volume.Recipes;

namespace Maskwork.Plugins.Volume;

/// <summary>The medical-volume modality: the <c>nifti</c> reader and the SelfMedMAE-style <c>volume/mae3d</c> recipes.</summary>
public sealed class VolumePlugin : IModalityPlugin
{
    public PluginInfo Info { get; } = new("volume", typeof(VolumePlugin).Assembly.GetName().Version?.ToString(3) ?? "0.0.0",
        "Medical volumes: NIfTI-1/2, RAS/spacing/CT window/MR z-score preprocessing, 3-D MAE (SelfMedMAE).");

    public void Register(IComponentRegistry registry)
    {
        registry.AddReader(new NiftiReader());
        registry.AddRecipe(new Mae3dRecipe("volume/mae3d", "3-D MAE (SelfMedMAE) sized for a CPU: 32³ crops at 2 mm, 8³ patches, mask 0.75, norm-pix MSE", Mae3dOptions.Cpu(), Mae3dRecipe.CpuTraining));
        registry.AddRecipe(new Mae3dRecipe("volume/mae3d-paper", "SelfMedMAE's CT setting: 96³ crops at 1.5×1.5×2 mm, 16³ patches, HU −175…250, ViT-B, decoder 384×8", Mae3dOptions.Paper(), Mae3dRecipe.PaperTraining));
    }
}
