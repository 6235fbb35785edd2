using Maskwork.Abstractions;
using Maskwork.Plugins.Image.Readers;
using Maskwork.Plugins.Image.Recipes;
using Maskwork.Plugins.Image.Tokenizers;

namespace Maskwork.Plugins.Image;

/// <summary>The image modality: readers for IDX and image folders, MAE recipes.</summary>
public sealed class ImagePlugin : IModalityPlugin
{
    public PluginInfo Info { get; } = new("image", typeof(ImagePlugin).Assembly.GetName().Version?.ToString(3) ?? "0.0.0",
        "Images: Fashion-MNIST/MNIST (IDX), PNG/JPEG folders; MAE with random, block, noise (ColorMAE), progressive or guided (HPM) masking.");

    public void Register(IComponentRegistry registry)
    {
        registry.AddReader(new IdxReader("fashion-mnist", "fashion-mnist"));
        registry.AddReader(new IdxReader("mnist", "mnist"));
        registry.AddReader(new ImageFolderReader());
        registry.AddTokenizer(new PatchTokenizerFactory());
        registry.AddRecipe(new ImageMaeRecipe("image/mae", "MAE (He et al. 2022) with random masking, sized for a 2-core CPU", block: false));
        registry.AddRecipe(new ImageMaeRecipe("image/mae-block", "MAE with BEiT-style block-wise masking", block: true));
        registry.AddRecipe(new ImageMaeRecipe("image/colormae", "ColorMAE (Hinojosa et al. 2024): masks from green (band-pass) filtered noise",
            new ImageMaeOptions { Masker = "noise", Noise = "green" }));
        registry.AddRecipe(new ImageMaeRecipe("image/mae-progressive", "MAE with progressive masking (LMD-style): the ratio rises linearly 0.45 → 0.75 over the run",
            new ImageMaeOptions { MaskRatio = 0.45, MaskRatioEnd = 0.75, MaskSchedule = "linear" }));
        registry.AddRecipe(new ImageMaeRecipe("image/hpm", "Hard Patches Mining (Wang et al. 2023): a loss-prediction head guides masking toward hard patches, easy to hard (guided share 0 → 0.5)",
            new ImageMaeOptions { Masker = "guided", PredictLoss = true, GuidedHide = "hardest", GuidedFraction = 0, GuidedFractionEnd = 0.5 }));
    }
}
