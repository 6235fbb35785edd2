using Maskwork.Abstractions;
using Maskwork.Plugins.Video.Readers;
using Maskwork.Plugins.Video.Recipes;

namespace Maskwork.Plugins.Video;

/// <summary>The video modality: ffmpeg-decoded files, frame folders, Moving Fashion-MNIST; VideoMAE and VideoMAE V2.</summary>
public sealed class VideoPlugin : IModalityPlugin
{
    public PluginInfo Info { get; } = new("video", typeof(VideoPlugin).Assembly.GetName().Version?.ToString(3) ?? "0.0.0",
        "Video: mp4/webm/mkv/avi/mov/mpg through the system's ffmpeg, frame folders, Moving Fashion-MNIST; VideoMAE (tube mask) and VideoMAE V2 (dual masking).");

    public void Register(IComponentRegistry registry)
    {
        registry.AddReader(new VideoFileReader());
        registry.AddReader(new FrameFolderReader());
        registry.AddReader(new MovingFashionMnistReader(eightDirections: false));
        registry.AddReader(new MovingFashionMnistReader(eightDirections: true));
        registry.AddRecipe(new VideoMaeRecipe("video/videomae", "VideoMAE (Tong et al. 2022): tubelets, 90% tube masking, per-tubelet normalised pixel loss; sized for a CPU, model.preset=paper for ViT-B on 16×224²",
            new VideoMaeOptions()));
        registry.AddRecipe(new VideoMaeRecipe("video/videomae-v2", "VideoMAE V2 (Wang et al. 2023): VideoMAE with a 50% running-cell decoder mask (loss on tubelets masked by the encoder and kept by the decoder)",
            new VideoMaeOptions { DecoderMasker = "running-cell", DecoderMaskRatio = 0.5 }));
    }
}
