using System.ComponentModel;
using System.Globalization;
using Maskwork.Abstractions;
using Maskwork.Backend.Masking;
using Maskwork.Backend.Nn;
using Maskwork.Plugins.Video.Model;
using Maskwork.Plugins.Video.Tokenization;

namespace Maskwork.Plugins.Video.Recipes;

/// <summary>
/// Model options of the video recipes (JSON: snake_case, e.g. <c>--set model.mask_ratio=0.75</c>); the
/// masker options are the backend's shared grid set, so <c>model.masker</c> may be any grid masker.
/// </summary>
public sealed record VideoMaeOptions : GridMaskerOptions
{
    /// <summary>Known <see cref="Preset"/> values.</summary>
    public static readonly IReadOnlyList<string> Presets = ["cpu", "paper"];

    public VideoMaeOptions()
    {
        Masker = "tube";
        MaskRatio = 0.9;
    }

    [Description("cpu: the options below (sized for 2 CPU cores) | paper: VideoMAE's ViT-B, 16 RGB frames of 224² every 4th frame, tubelets 2×16×16 (1,568 tokens), decoder 384-d × 4 — for a GPU; it replaces frames, sampling_rate, size, channels, tubelet, patch, mean, std and the encoder/decoder shapes")]
    public string Preset { get; init; } = "cpu";

    [Description("frames per clip")]
    public int Frames { get; init; } = 8;
    [Description("take every n-th frame of the video (VideoMAE: 4 on Kinetics, 2 on Something-Something)")]
    public int SamplingRate { get; init; } = 1;
    [Description("square frame side in pixels; readers resize and crop to it")]
    public int Size { get; init; } = 64;
    [Description("1 (grey) or 3 (RGB); readers convert to it")]
    public int Channels { get; init; } = 1;
    [Description("frames per tubelet (token)")]
    public int Tubelet { get; init; } = 2;
    [Description("tubelet side in pixels")]
    public int Patch { get; init; } = 8;
    [Description("per-channel mean the tokenizer subtracts (ImageNet's, as VideoMAE; grey: their mean)")]
    public float[] Mean { get; init; } = [0.449f];
    [Description("per-channel standard deviation the tokenizer divides by")]
    public float[] Std { get; init; } = [0.226f];
    [Description("encoder width (token embedding size)")]
    public int EncoderDim { get; init; } = 192;
    [Description("encoder transformer blocks")]
    public int EncoderDepth { get; init; } = 6;
    [Description("attention heads per encoder block")]
    public int EncoderHeads { get; init; } = 3;
    [Description("decoder width")]
    public int DecoderDim { get; init; } = 96;
    [Description("decoder transformer blocks (4, as the papers: a deeper decoder frees the encoder's last blocks from pixel detail; 2 → 4 lifted both probes)")]
    public int DecoderDepth { get; init; } = 4;
    [Description("attention heads per decoder block")]
    public int DecoderHeads { get; init; } = 3;

    /// <summary>The options with <see cref="Preset"/> applied.</summary>
    public VideoMaeOptions Effective() => Preset switch
    {
        "cpu" => this,
        "paper" => this with
        {
            Frames = 16, SamplingRate = 4, Size = 224, Channels = 3, Tubelet = 2, Patch = 16,
            Mean = [0.485f, 0.456f, 0.406f], Std = [0.229f, 0.224f, 0.225f],
            EncoderDim = 768, EncoderDepth = 12, EncoderHeads = 12, DecoderDim = 384, DecoderDepth = 4, DecoderHeads = 6,
        },
        _ => throw new ArgumentException($"model.preset '{Preset}' is not known; known: {string.Join(", ", Presets)}"),
    };
}

/// <summary>
/// VideoMAE (Tong et al. 2022) and VideoMAE V2 (Wang et al. 2023): tubelet tokens, tube masking at 0.9
/// (one spatial mask over all time slices), an encoder on the visible tubelets only, a light decoder with
/// [MASK] tokens, MSE on the masked tubelets normalised per tubelet and channel; V2 adds the running-cell
/// decoder mask (the decoder predicts half of the masked tubelets, the loss counts those).
/// The CPU default is VideoMAE-Tiny on 8 grey 64×64 frames: tubelets 2×8×8 → 4×8×8 = 256 tokens, 25 visible,
/// encoder 192-d × 6 × 3 heads, decoder 96-d × 4 (the bench peer's widths; its decoder has 2 blocks); <c>model.preset=paper</c>
/// switches to the paper's ViT-B on 16×224² RGB.
/// </summary>
public sealed class VideoMaeRecipe(string name, string description, VideoMaeOptions defaults) : IRecipe
{
    public string Name { get; } = name;
    public string Description { get; } = description;
    public string DefaultData => "moving-fashion-mnist-8dir";
    public Type OptionsType => typeof(VideoMaeOptions);
    public object DefaultOptions { get; } = defaults;

    /// <summary>VideoMAE's optimiser (AdamW 0.9/0.95, wd 0.05, lr = base · batch / 256); base 2e-3 (lr 2.5e-4 at batch 32) for the short CPU run: 8e-3 learned motion less well on the probes, 1.5e-3 plateaued at the all-dark-tubelet loss.</summary>
    public TrainOptions Training { get; } = new()
    {
        Steps = 1500, Batch = 32, BaseLr = 2e-3, WarmupSteps = 100, WeightDecay = 0.05, Beta1 = 0.9, Beta2 = 0.95,
        ClipGrad = 1.0, CheckpointEvery = 250, LogEvery = 10,
    };

    public IReadOnlyDictionary<string, string> DataOptions(object options)
    {
        var o = ((VideoMaeOptions)options).Effective();
        return new Dictionary<string, string>
        {
            ["size"] = o.Size.ToString(CultureInfo.InvariantCulture),
            ["channels"] = o.Channels.ToString(CultureInfo.InvariantCulture),
            ["frames"] = o.Frames.ToString(CultureInfo.InvariantCulture),
            ["sampling_rate"] = o.SamplingRate.ToString(CultureInfo.InvariantCulture),
        };
    }

    public ModelParts Build(object options, BuildContext context)
    {
        var o = ((VideoMaeOptions)options).Effective();
        if (o.Frames <= 0 || o.SamplingRate <= 0) throw new ArgumentException($"model.frames ({o.Frames}) and model.sampling_rate ({o.SamplingRate}) must be positive");
        if (o.Channels is not (1 or 3)) throw new ArgumentException($"model.channels must be 1 or 3, got {o.Channels}");
        if (o.Frames % o.Tubelet != 0) throw new ArgumentException($"model.frames ({o.Frames}) must be a multiple of model.tubelet ({o.Tubelet})");
        if (o.Size % o.Patch != 0) throw new ArgumentException($"model.size ({o.Size}) must be a multiple of model.patch ({o.Patch})");
        // Clips are keyed by the run's seed, the epoch and the sample index.
        var clips = new ClipSampler(o.Frames, o.SamplingRate, context.Seed);
        var tokenizer = new VideoTokenizer(clips, o.Size, o.Channels, o.Tubelet, o.Patch, o.Mean, o.Std);
        if (o.DecoderMasker == "running-cell" && (tokenizer.Layout.Dims[1] % 2 != 0 || tokenizer.Layout.Dims[2] % 2 != 0))
            throw new ArgumentException($"the running-cell decoder mask needs an even number of tubelets per side; size {o.Size} / patch {o.Patch} = {tokenizer.Layout.Dims[1]}");
        var masker = o.Build();
        var encoder = new VitEncoder(tokenizer.TokenDim, new TransformerShape(o.EncoderDim, o.EncoderDepth, o.EncoderHeads));
        var objective = new VideoMaeObjective(o.EncoderDim, tokenizer.TokenDim, o.Channels, new TransformerShape(o.DecoderDim, o.DecoderDepth, o.DecoderHeads));
        // Every sample hides the same count and weighs the same in the loss, so slices of a batch may train on parallel
        // workers — with a decoder mask only when every sample keeps the same count (tube mask over a multiple of 4
        // time slices), else the objective's choice of decoder queries would depend on the batch.
        bool sameCounts = o.DecoderMasker == "none" || (o.Masker == "tube" && tokenizer.Layout.Dims[0] % 4 == 0);
        return new ModelParts(tokenizer, masker, encoder, objective) { Renderer = new VideoRenderer(), MaskRenderer = new VideoMaskRenderer(), IndependentSamples = o.Masker != "guided" && sameCounts };
    }
}
