using Maskwork.Abstractions;
using Maskwork.Plugins.Image.Readers;
using Maskwork.Plugins.Image.Recipes;
using Maskwork.Plugins.Image.Tokenizers;

namespace Maskwork.Plugins.Image;

/// <summary>The image modality: readers for IDX and image folders, MAE recipes.</summary>
public sealed class ImagePlugin : IModalityPlugin
{
    public PluginInfo Info { get; } = new("image", typeof(ImagePlugin).Assembly.GetName().Version?.ToString(3) ?? "0.0.0",
        "Images: Fashion-MNIST/MNIST (IDX), PNG/JPEG folders; MAE with random, block, noise (ColorMAE), progressive or guided (HPM) masking; teacher recipes (data2vec, JEPA, MaskAlign, MR-MAE, DMAE, self-distillation).");

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
        foreach (var recipe in TeacherRecipes()) registry.AddRecipe(recipe);
    }

    /// <summary>The recipes that regress a teacher's features instead of (or beside) pixels (README "Teachers and feature targets").</summary>
    static IEnumerable<IRecipe> TeacherRecipes()
    {
        yield return new ImageTeacherRecipe("image/data2vec", "data2vec-style (Baevski et al. 2022): predict an EMA teacher's average of its top-3 instance-normed block outputs at the masked tokens (smooth-L1)",
            new ImageTeacherOptions { Teacher = "ema", TargetTopK = 3, TargetNorm = "instance", Loss = "smooth_l1", MaskedWeight = 1 });
        yield return new ImageTeacherRecipe("image/jepa", "I-JEPA-style (Assran et al. 2023): a narrow predictor maps the visible context to an EMA target encoder's layer-normed latents of masked blocks (30 % of the tokens)",
            // Block ratio 0.3, not 0.6: on the 4 × 4 token grid of 28² at patch 7, blocks hiding 60 % left too little context
            // (seed 0 probe 0.776 at 0.6, 0.790 at 0.4, 0.802 at 0.3; README "Teachers and feature targets").
            new ImageTeacherOptions { Teacher = "ema", Masker = "block", MaskRatio = 0.3, EmaSchedule = "linear", TargetNorm = "layer", Loss = "smooth_l1", MaskedWeight = 1 });
        yield return new ImageTeacherRecipe("image/maskalign", "MaskAlign (Xue et al. 2023): align the visible tokens with a frozen teacher's features of the whole image; no decoder (needs model.teacher=RUN_DIR)",
            new ImageTeacherOptions { Teacher = "", MaskRatio = 0.7, TargetNorm = "layer", Loss = "mse", VisibleWeight = 1 });
        yield return new ImageTeacherRecipe("image/mr-mae", "MR-MAE (Gao et al. 2023): MAE's pixel loss on the masked tokens plus a mimic loss on the visible ones against a frozen teacher (needs model.teacher=RUN_DIR)",
            new ImageTeacherOptions { Teacher = "", TargetNorm = "layer", Loss = "mse", VisibleWeight = 1, PixelWeight = 1 });
        yield return new ImageTeacherRecipe("image/dmae", "DMAE (Bai et al. 2023): MAE plus distillation of a larger frozen teacher's intermediate features (3rd block from the end) into the masked student (needs model.teacher=RUN_DIR)",
            new ImageTeacherOptions { Teacher = "", TargetLayer = -3, TargetNorm = "layer", Loss = "smooth_l1", VisibleWeight = 1, PixelWeight = 1 });
        yield return new ImageTeacherRecipe("image/self-distill", "self-distillation further pretraining: start from an earlier checkpoint of the same model and keep MAE's loss plus matching that checkpoint's features (needs model.teacher=RUN_DIR[@STEP])",
            new ImageTeacherOptions { Teacher = "", InitFromTeacher = true, TargetNorm = "layer", Loss = "mse", VisibleWeight = 1, PixelWeight = 1 });
    }
}
