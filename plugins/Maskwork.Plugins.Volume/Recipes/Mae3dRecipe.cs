using System.ComponentModel;
using System.Globalization;
using Maskwork.Abstractions;
using Maskwork.Backend.Masking;
using Maskwork.Backend.Nn;
using Maskwork.Backend.Objectives;
using Maskwork.Backend.Tokenization;
using Maskwork.Plugins.Volume.Preprocessing;
using Maskwork.Plugins.Volume.Tokenization;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Volume.Recipes;

/// <summary>
/// Model options of <c>volume/mae3d</c> (JSON snake_case, <c>--set model.crop=32,32,32</c>); the masker options are the
/// backend's shared grid set (<c>model.masker=block</c>, <c>model.block_tokens=2</c>, …). The preprocessing options are
/// handed to the reader as <c>data.*</c> (<see cref="Mae3dRecipe.DataOptions"/>).
/// </summary>
public sealed record Mae3dOptions : GridMaskerOptions
{
    [Description("crop size in voxels, z,y,x (need not be a cube; each a multiple of patch): the token grid follows it")]
    public int[] Crop { get; init; } = [32, 32, 32];
    [Description("patch side in voxels (p³ patches, one token each)")]
    public int Patch { get; init; } = 8;
    [Description("channels per voxel (data.volumes=channels stacks a 4-D file's volumes)")]
    public int Channels { get; init; } = 1;
    [Description("target voxel spacing in mm, x,y,z (0 keeps an axis)")]
    public double[] Spacing { get; init; } = [2, 2, 2];
    [Description("intensity normalisation: mr (z-score over non-zero voxels) | ct (clip to window, scale to [0,1]) | none")]
    public string Intensity { get; init; } = "mr";
    [Description("CT window: abdomen (−175…250 HU, SelfMedMAE) | soft-tissue | brain | lung | bone | liver | 'low,high'")]
    public string Window { get; init; } = "abdomen";
    [Description("crop each volume to its foreground's bounding box before random crops")]
    public bool Foreground { get; init; } = true;
    [Description("per-channel mean the tokenizer subtracts (after the intensity normalisation)")]
    public float[] Mean { get; init; } = [0f];
    [Description("per-channel standard deviation the tokenizer divides by")]
    public float[] Std { get; init; } = [1f];
    [Description("random crops: chance to flip each axis")]
    public double FlipProbability { get; init; } = 0.2;
    [Description("random crops: the axes a flip may mirror (z, y, x; x is left–right after RAS reorientation)")]
    public string[] FlipAxes { get; init; } = ["z", "y", "x"];
    [Description("random crops: chance of a 90°·k axial rotation (when crop y = x)")]
    public double RotateProbability { get; init; } = 0.2;
    [Description("random crops: chance of an intensity scale and (separately) a shift")]
    public double IntensityProbability { get; init; } = 0.1;
    [Description("random crops: the scale is 1 ± this, the shift ± this")]
    public double IntensityAmount { get; init; } = 0.1;
    [Description("encoder width (divisible by 6 for the 3-D sin-cos table: an even share per axis)")]
    public int EncoderDim { get; init; } = 192;
    [Description("encoder transformer blocks")]
    public int EncoderDepth { get; init; } = 4;
    [Description("attention heads per encoder block")]
    public int EncoderHeads { get; init; } = 4;
    [Description("decoder width")]
    public int DecoderDim { get; init; } = 96;
    [Description("decoder transformer blocks")]
    public int DecoderDepth { get; init; } = 2;
    [Description("attention heads per decoder block")]
    public int DecoderHeads { get; init; } = 4;
    [Description("predict per-patch normalised voxels (MAE's norm-pix loss)")]
    public bool NormPix { get; init; } = true;

    /// <summary>The CPU defaults: 32³ crops of 8³ patches (64 tokens) at 2 mm, 192-d × 4 encoder, mask 0.75.</summary>
    public static Mae3dOptions Cpu() => new();

    /// <summary>SelfMedMAE's BTCV CT configuration: 96³ crops at 1.5×1.5×2 mm, 16³ patches (216 tokens), ViT-B, decoder 384 × 8.</summary>
    public static Mae3dOptions Paper() => new()
    {
        Crop = [96, 96, 96], Patch = 16, Spacing = [1.5, 1.5, 2.0], Intensity = "ct", Window = "abdomen",
        EncoderDim = 768, EncoderDepth = 12, EncoderHeads = 12, DecoderDim = 384, DecoderDepth = 8, DecoderHeads = 12,
    };
}

/// <summary>
/// 3-D MAE on medical volumes (SelfMedMAE, Zhou et al. 2022): the reader reorients to RAS, resamples, normalises
/// (CT window / MR z-score) and crops to the foreground once; each step cuts random crops (keyed by seed, epoch and the
/// sample's global index) with flips, axial 90° rotations and intensity jitter, tokenizes them into p³ patches on the
/// backend's grid tokenizer (axes z, y, x; 3-D sin-cos positions), hides 75 % (random or 3-D block masks) and
/// regresses the masked patches' per-patch normalised voxels with MSE.
/// </summary>
public sealed class Mae3dRecipe(string name, string description, Mae3dOptions defaults, TrainOptions training) : IRecipe
{
    /// <summary>
    /// CPU defaults: 600 steps × 16 crops, AdamW β2 0.95, wd 0.05 (SelfMedMAE's), 40 warm-up steps, blr 1.6e-2, i.e. a
    /// peak lr of 1e-3 at batch 16 (image/mae's peak). Measured: blr 1.5e-3 (peak 9.4e-5) plateaued at a loss of 0.92
    /// after 100 of 600 steps on Colin27; on volume-probe (seed 0, 600 steps, x flips) blr 4e-3 reached a probe accuracy of
    /// 0.326 and a masked NMSE of 1.016 against 0.405 and 0.975 at 1.6e-2.
    /// </summary>
    public static readonly TrainOptions CpuTraining = new()
    {
        Steps = 600, Batch = 16, BaseLr = 1.6e-2, WarmupSteps = 40, WeightDecay = 0.05, Beta1 = 0.9, Beta2 = 0.95,
        ClipGrad = 1.0, CheckpointEvery = 100, LogEvery = 10,
    };

    /// <summary>SelfMedMAE's pretraining optimiser: AdamW lr 1.5e-4 × batch / 256 … here with a batch of 6 crops (one GPU).</summary>
    public static readonly TrainOptions PaperTraining = new()
    {
        Steps = 100_000, Batch = 6, BaseLr = 1.5e-4, WarmupSteps = 5_000, WeightDecay = 0.05, Beta1 = 0.9, Beta2 = 0.95,
        ClipGrad = 0, CheckpointEvery = 1000, LogEvery = 50,
    };

    public string Name { get; } = name;
    public string Description { get; } = description;
    public string DefaultData => "nifti:/usr/share/mricron/templates/ch2bet.nii.gz";
    public Type OptionsType => typeof(Mae3dOptions);
    public object DefaultOptions { get; } = defaults;
    public TrainOptions Training { get; } = training;

    public IReadOnlyDictionary<string, string> DataOptions(object options)
    {
        var o = (Mae3dOptions)options;
        return new Dictionary<string, string>
        {
            ["spacing"] = string.Join(',', o.Spacing.Select(s => s.ToString(CultureInfo.InvariantCulture))),
            ["intensity"] = o.Intensity,
            ["window"] = o.Window,
            ["foreground"] = o.Foreground ? "true" : "false",
            ["volumes"] = o.Channels > 1 ? "channels" : "time",
        };
    }

    public ModelParts Build(object options, BuildContext context)
    {
        var o = (Mae3dOptions)options;
        if (o.Crop.Length != 3) throw new ArgumentException($"model.crop needs three sizes z,y,x, got {o.Crop.Length}");
        for (int a = 0; a < 3; a++)
            if (o.Crop[a] <= 0 || o.Crop[a] % o.Patch != 0)
                throw new ArgumentException($"model.crop {string.Join(',', o.Crop)}: each size must be a positive multiple of model.patch {o.Patch}");
        if (o.Intensity is not ("mr" or "ct" or "none")) throw new ArgumentException($"model.intensity must be mr, ct or none, got '{o.Intensity}'");
        var window = VolumePreprocess.ParseWindow(o.Window);
        if (o.Masker is "tube" or "noise") throw new ArgumentException($"model.masker={o.Masker} needs a time axis or a 2-D grid; volumes take random, block or guided");
        // The crop seed comes from the run's generator (seeded with the run's seed before Build; resume seeds it the same).
        long seed;
        using (var draw = randint(long.MaxValue, [1], dtype: ScalarType.Int64)) seed = draw.item<long>();
        var grid = new GridTokenizer(o.Crop, [o.Patch, o.Patch, o.Patch], o.Channels, o.Mean, o.Std, axes: "z,y,x");
        var crops = new VolumeCrops(o.Crop, seed, new CropAugment(o.FlipProbability, o.RotateProbability, o.IntensityProbability, o.IntensityAmount, CropAugment.ParseAxes(o.FlipAxes)));
        var tokenizer = new VolumeTokenizer(crops, grid);
        var encoder = new VitEncoder(grid.TokenDim, new TransformerShape(o.EncoderDim, o.EncoderDepth, o.EncoderHeads));
        tokenizer.AugmentWhile = () => encoder.training;
        var objective = new MaeObjective(o.EncoderDim, grid.TokenDim, new TransformerShape(o.DecoderDim, o.DecoderDepth, o.DecoderHeads), o.NormPix);
        var renderer = new VolumeRenderer(o.Intensity, window);
        // Equal masked counts per crop and a mean loss; crops draw from their own keys: slices may train on two workers.
        return new ModelParts(tokenizer, o.Build(), encoder, objective) { Renderer = renderer, IndependentSamples = true };
    }
}
