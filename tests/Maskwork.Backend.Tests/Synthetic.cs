using Maskwork.Abstractions;
using Maskwork.Backend.Masking;
using Maskwork.Backend.Nn;
using Maskwork.Backend.Objectives;
using static TorchSharp.torch;

namespace Maskwork.Backend.Tests;

static class Synthetic
{
    public const int Tokens = Sequences.Tokens, Dim = Sequences.Dim;

    public static List<Sample> Samples(int count, int seed = 0) => Sequences.Samples(count, seed, "synthetic");

    public static ModelParts Parts(double maskRatio = 0.5, IObjective? objective = null)
    {
        var encoder = new VitEncoder(Dim, new TransformerShape(32, 2, 4));
        return new ModelParts(new SequenceTokenizer(Tokens, Dim), new RandomMasker(maskRatio), encoder,
            objective ?? new MaeObjective(32, Dim, new TransformerShape(16, 1, 2), normPix: false));
    }

    public static TrainOptions Train(int steps) => new()
    {
        Steps = steps, Batch = 8, BaseLr = 1e-2, WarmupSteps = 3, CheckpointEvery = 0, LogEvery = 1,
    };
}

static class TensorAssert
{
    /// <summary>Same shape and every element equal.</summary>
    public static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();
}
