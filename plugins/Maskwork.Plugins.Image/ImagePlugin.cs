using Maskwork.Abstractions;
using Maskwork.Plugins.Image.Readers;
using Maskwork.Plugins.Image.Recipes;

namespace Maskwork.Plugins.Image;

/// <summary>The image modality: readers for IDX and image folders, MAE recipes.</summary>
public sealed class ImagePlugin : IModalityPlugin
{
    public PluginInfo Info { get; } = new("image", typeof(ImagePlugin).Assembly.GetName().Version?.ToString(3) ?? "0.0.0",
        "Images: Fashion-MNIST/MNIST (IDX), PNG/JPEG folders; MAE with random or block masking.");

    public void Register(IComponentRegistry registry)
    {
        registry.AddReader(new IdxReader("fashion-mnist", "fashion-mnist"));
        registry.AddReader(new IdxReader("mnist", "mnist"));
        registry.AddReader(new ImageFolderReader());
        registry.AddRecipe(new ImageMaeRecipe("image/mae", "MAE (He et al. 2022) with random masking, sized for a 2-core CPU", block: false));
        registry.AddRecipe(new ImageMaeRecipe("image/mae-block", "MAE with BEiT-style block-wise masking", block: true));
    }
}
