using System.ComponentModel;
using System.Globalization;
using Maskwork.Abstractions;
using Maskwork.Backend.Masking;
using Maskwork.Backend.Nn;
using Maskwork.Plugins.PointCloud.Model;
using Maskwork.Plugins.PointCloud.Tokenization;

namespace Maskwork.Plugins.PointCloud.Recipes;

/// <summary>Model options of <c>points/point-mae</c> (JSON: snake_case, e.g. <c>--set model.groups=32</c>).</summary>
public sealed record PointMaeOptions
{
    /// <summary>Points per cloud after resampling (and per mesh sampled from OFF files).</summary>
    [Description("points per cloud after resampling (and per mesh sampled from OFF files)")]
    public int Points { get; init; } = 1024;
    /// <summary>Groups G (FPS centres) per cloud: the tokens.</summary>
    [Description("groups per cloud (farthest-point-sampled centres): the tokens")]
    public int Groups { get; init; } = 64;
    /// <summary>Points K per group (kNN of each centre).</summary>
    [Description("points per group (each centre's k nearest neighbours)")]
    public int GroupSize { get; init; } = 32;
    [Description("share of the groups hidden from the encoder")]
    public double MaskRatio { get; init; } = 0.6;
    [Description("encoder width (token embedding size)")]
    public int EncoderDim { get; init; } = 192;
    [Description("encoder transformer blocks")]
    public int EncoderDepth { get; init; } = 6;
    [Description("attention heads per encoder block")]
    public int EncoderHeads { get; init; } = 4;
    [Description("decoder width")]
    public int DecoderDim { get; init; } = 192;
    [Description("decoder transformer blocks")]
    public int DecoderDepth { get; init; } = 2;
    [Description("attention heads per decoder block")]
    public int DecoderHeads { get; init; } = 4;
    /// <summary>Axis rotations turn about: 0 = x, 1 = y (ShapeNet, ModelNet), 2 = z (KITTI, image points).</summary>
    [Description("axis rotations turn about: 0 = x, 1 = y (ShapeNet, ModelNet), 2 = z (KITTI, image points)")]
    public int UpAxis { get; init; } = 2;
    /// <summary>Training rotation range about the up axis in ± degrees; 0 disables.</summary>
    [Description("training rotation about the up axis, ± degrees; 0 disables")]
    public double RotateDegrees { get; init; } = 180;
    [Description("smallest random training scale per axis")]
    public double ScaleMin { get; init; } = 0.8;
    [Description("largest random training scale per axis")]
    public double ScaleMax { get; init; } = 1.25;
    [Description("standard deviation of the training jitter added to each point")]
    public double JitterSigma { get; init; } = 0.01;
}

/// <summary>
/// Point-MAE (Pang et al., ECCV 2022) with the paper's structure scaled for a CPU: 1,024 points, 64
/// FPS groups × 32 kNN points, mini-PointNet group embedding, MLP positional embedding of centres
/// added at every block, random group masking at 0.6, encoder on visible groups only, a decoder with
/// mask tokens and a Chamfer-L2 loss on the masked groups. Width 192 × 6 blocks (paper: 384 × 12),
/// decoder 2 blocks (paper: 4).
/// </summary>
public sealed class PointMaeRecipe : IRecipe
{
    public string Name => "points/point-mae";
    public string Description => "Point-MAE (Pang et al. 2022): FPS+kNN groups, 60% group masking, Chamfer-L2; sized for a CPU";
    public string DefaultData => "fashion-mnist-points";
    public Type OptionsType => typeof(PointMaeOptions);
    public object DefaultOptions { get; } = new PointMaeOptions();

    public TrainOptions Training { get; } = new()
    {
        Steps = 1000, Batch = 32, BaseLr = 1e-3 * 256 / 128, WarmupSteps = 50, WeightDecay = 0.05, Beta1 = 0.9, Beta2 = 0.999,
        ClipGrad = 1.0, CheckpointEvery = 200, LogEvery = 10,
    };

    public IReadOnlyDictionary<string, string> DataOptions(object options)
    {
        var o = (PointMaeOptions)options;
        return new Dictionary<string, string> { ["mesh_points"] = o.Points.ToString(CultureInfo.InvariantCulture), ["fields"] = "xyz" };
    }

    public ModelParts Build(object options, BuildContext context)
    {
        var o = (PointMaeOptions)options;
        var augment = new PointAugment(o.UpAxis, o.RotateDegrees, o.ScaleMin, o.ScaleMax, o.JitterSigma, o.JitterSigma * 5);
        var tokenizer = new PointGroupTokenizer(o.Points, o.Groups, o.GroupSize, augment);
        var encoder = new PointMaeEncoder(o.GroupSize, new TransformerShape(o.EncoderDim, o.EncoderDepth, o.EncoderHeads));
        // Augment exactly while the model trains (the trainer calls train(), probes and pictures eval()).
        tokenizer.AugmentWhile = () => encoder.training;
        var objective = new PointMaeObjective(o.EncoderDim, o.GroupSize, new TransformerShape(o.DecoderDim, o.DecoderDepth, o.DecoderHeads));
        // Not IndependentSamples: the tokenizer's augmentation draws from torch's global generator, which parallel slices would share.
        return new ModelParts(tokenizer, new RandomMasker(o.MaskRatio), encoder, objective) { Renderer = new PointRenderer(o.UpAxis) };
    }
}
