using System.ComponentModel;
using System.Globalization;
using Maskwork.Abstractions;
using Maskwork.Backend.Masking;
using Maskwork.Backend.Nn;
using Maskwork.Backend.Tokenization;
using Maskwork.Plugins.Voxel.Model;
using Maskwork.Plugins.Voxel.Tokenization;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Voxel.Recipes;

/// <summary>
/// Model options of <c>voxel/mae3d</c> and <c>voxel/nerf-mae</c> (JSON snake_case, <c>--set model.grid=32</c>). The
/// masker options are the backend's grid set plus <c>model.masker=occupancy</c> (<see cref="OccupancyMasker"/>).
/// </summary>
public sealed record VoxelMaeOptions : GridMaskerOptions
{
    public VoxelMaeOptions()
    {
        Masker = "occupancy";
        MaskRatio = 0.875;
    }

    [Description("grid side S in voxels (S³ grids; the reader resizes to it); a multiple of patch")]
    public int Grid { get; init; } = 32;
    [Description("patch side in voxels (p³ patches, one token each)")]
    public int Patch { get; init; } = 4;
    [Description("occupancy (1 channel) or rgba (RGB + α, 4 channels)")]
    public string Channels { get; init; } = "occupancy";
    [Description("occupancy masker: keep weight of a patch holding an occupied voxel (an empty patch weighs 1)")]
    public double OccupiedWeight { get; init; } = 8;
    [Description("weight of occupied voxels in the loss (they are rare): BCE for voxel/mae3d, α MSE for voxel/nerf-mae (1 = NeRF-MAE's unweighted loss)")]
    public double PositiveWeight { get; init; } = 4;
    [Description("training rotation about the up axis (grid axis 0), ± degrees, keyed by (seed, epoch, index); 0 disables")]
    public double RotateDegrees { get; init; } = 180;
    [Description("encoder width (divisible by 6 for the 3-D sin-cos table)")]
    public int EncoderDim { get; init; } = 144;
    [Description("encoder transformer blocks")]
    public int EncoderDepth { get; init; } = 4;
    [Description("attention heads per encoder block")]
    public int EncoderHeads { get; init; } = 4;
    [Description("decoder width (divisible by 6)")]
    public int DecoderDim { get; init; } = 72;
    [Description("decoder transformer blocks")]
    public int DecoderDepth { get; init; } = 2;
    [Description("attention heads per decoder block")]
    public int DecoderHeads { get; init; } = 4;

    public int ChannelCount => Channels == "rgba" ? 4 : 1;

    /// <summary>voxel/mae3d: 32³ occupancy, 4³ patches (512 tokens), occupancy-aware masking keeping 64 tokens, BCE.</summary>
    public static VoxelMaeOptions Mae3d() => new();

    /// <summary>voxel/nerf-mae: 32³ RGB-α, 4³ patches, 2×2×2-token cubes hidden at 0.75.</summary>
    public static VoxelMaeOptions NerfMae() => new() { Channels = "rgba", Masker = "block", BlockTokens = 2, MaskRatio = 0.75, RotateDegrees = 0, PositiveWeight = 8 };
}

/// <summary>
/// Masked modelling of voxel grids on the backend's grid tokenizer and ViT encoder (visible tokens only).
/// <c>voxel/mae3d</c> (DiT-3D / FastDiT-3D's setting): 32³ occupancy in 4³ patches, occupancy-aware masking with a fixed
/// visible count, BCE with a positive weight on the masked patches. <c>voxel/nerf-mae</c> (Irshad et al. 2024): RGB-α
/// grids, cubes of tokens hidden at 0.75, RGB MSE where α &gt; 0.01 plus α MSE on the masked voxels. Unlike both papers
/// (a Swin-3D / DiT with mask tokens in place) the encoder sees only the visible tokens: MAE's asymmetric design, which is
/// what makes 512-token grids trainable on a CPU.
/// </summary>
public sealed class VoxelMaeRecipe(string name, string description, VoxelMaeOptions defaults, VoxelLoss loss) : IRecipe
{
    /// <summary>CPU defaults: 400 steps × 32 grids, AdamW β2 0.95, peak lr 1e-3 (blr 8e-3 at batch 32), 20 warm-up steps.</summary>
    public static readonly TrainOptions CpuTraining = new()
    {
        Steps = 400, Batch = 32, BaseLr = 8e-3, WarmupSteps = 20, WeightDecay = 0.05, Beta1 = 0.9, Beta2 = 0.95,
        ClipGrad = 1.0, CheckpointEvery = 100, LogEvery = 10,
    };

    public static VoxelMaeRecipe Mae3d() => new("voxel/mae3d",
        "occupancy MAE (DiT-3D-style): 32³ grids, 4³ patches, occupancy-aware masking (64 visible), BCE with a positive weight; sized for a CPU",
        VoxelMaeOptions.Mae3d(), VoxelLoss.Occupancy);

    public static VoxelMaeRecipe NerfMae() => new("voxel/nerf-mae",
        "NeRF-MAE: RGB-α grids (32³, 4³ patches), 2³-token cubes masked at 0.75, RGB MSE where α > 0.01 + α MSE",
        VoxelMaeOptions.NerfMae(), VoxelLoss.Nerf);

    public string Name { get; } = name;
    public string Description { get; } = description;
    public string DefaultData => "mesh-voxels:shapes";
    public Type OptionsType => typeof(VoxelMaeOptions);
    public object DefaultOptions { get; } = defaults;
    public TrainOptions Training => CpuTraining;
    public VoxelLoss Loss => loss;

    public IReadOnlyDictionary<string, string> DataOptions(object options)
    {
        var o = (VoxelMaeOptions)options;
        return new Dictionary<string, string> { ["grid"] = o.Grid.ToString(CultureInfo.InvariantCulture), ["channels"] = o.Channels };
    }

    public ModelParts Build(object options, BuildContext context)
    {
        var o = (VoxelMaeOptions)options;
        if (o.Grid <= 0 || o.Patch <= 0 || o.Grid % o.Patch != 0) throw new ArgumentException($"model.grid {o.Grid} must be a positive multiple of model.patch {o.Patch}");
        if (o.Channels is not ("occupancy" or "rgba")) throw new ArgumentException($"model.channels must be occupancy or rgba, got '{o.Channels}'");
        if (loss == VoxelLoss.Nerf && o.Channels != "rgba") throw new ArgumentException("voxel/nerf-mae needs model.channels=rgba (RGB-α grids)");
        if (o.Masker is "tube" or "noise") throw new ArgumentException($"model.masker={o.Masker} needs a time axis or a 2-D grid; voxel grids take occupancy, random, block or guided");
        if (!(o.OccupiedWeight > 0) || !(o.PositiveWeight > 0)) throw new ArgumentException("model.occupied_weight and model.positive_weight must be positive");
        if (o.EncoderDim % 6 != 0 || o.DecoderDim % 6 != 0) throw new ArgumentException($"model.encoder_dim {o.EncoderDim} and model.decoder_dim {o.DecoderDim} must be multiples of 6 (3-D sin-cos positions)");
        // The rotation seed comes from the run's generator (seeded with the run's seed before Build; resume seeds it the same).
        long seed;
        using (var draw = randint(long.MaxValue, [1], dtype: ScalarType.Int64)) seed = draw.item<long>();
        int c = o.ChannelCount;
        var grid = new GridTokenizer([o.Grid, o.Grid, o.Grid], [o.Patch, o.Patch, o.Patch], c, [0f], [1f], axes: "z,y,x");
        var tokenizer = new VoxelTokenizer(grid, seed, o.RotateDegrees);
        var encoder = new VitEncoder(grid.TokenDim, new TransformerShape(o.EncoderDim, o.EncoderDepth, o.EncoderHeads));
        tokenizer.AugmentWhile = () => encoder.training;
        var objective = new VoxelMaeObjective(o.EncoderDim, grid.TokenDim, new TransformerShape(o.DecoderDim, o.DecoderDepth, o.DecoderHeads), loss, c, o.PositiveWeight);
        IMasker masker = o.Masker == "occupancy"
            ? new OccupancyMasker(o.Ratio(), o.OccupiedWeight, 0.5f, c, c - 1)
            : o.Build();
        if (o.Masker == "occupancy" && o.MaskRatio is < 0 or >= 1) throw new ArgumentException($"model.mask_ratio is {o.MaskRatio}: use a share in [0, 1)");
        return new ModelParts(tokenizer, masker, encoder, objective) { Renderer = new VoxelRenderer(), IndependentSamples = true };
    }
}
