using Maskwork.Abstractions;
using Maskwork.Backend.Masking;
using Maskwork.Backend.Nn;
using Maskwork.Backend.Objectives;
using static TorchSharp.torch;

namespace Maskwork.Backend.Tests;

/// <summary>A tiny 1-D modality for backend tests: each sample is [N, D] floats on a sequence layout.</summary>
sealed class SequenceTokenizer(int tokens, int dim) : ITokenizer
{
    public TokenBatch Tokenize(IReadOnlyList<Sample> batch, Device device)
    {
        var data = batch.SelectMany(s => s.Values).ToArray();
        return new TokenBatch(tensor(data, [batch.Count, tokens, dim]).to(device), new SequenceLayout(tokens));
    }

    public Tensor Detokenize(Tensor t, TokenBatch like) => t;
}

static class Synthetic
{
    public const int Tokens = 16, Dim = 8;

    /// <summary>Smooth random sequences: sums of two sinusoids with per-sample phase, so masked tokens are predictable.</summary>
    public static List<Sample> Samples(int count, int seed = 0)
    {
        var rng = new Random(seed);
        var list = new List<Sample>();
        for (int i = 0; i < count; i++)
        {
            double phase = rng.NextDouble() * Math.PI * 2, freq = 0.2 + rng.NextDouble() * 0.3;
            var v = new float[Tokens * Dim];
            for (int t = 0; t < Tokens; t++)
                for (int d = 0; d < Dim; d++) v[t * Dim + d] = (float)Math.Sin(phase + freq * t + d * 0.5);
            list.Add(new Sample(v, [Tokens, Dim], i % 2, $"synthetic#{i}"));
        }
        return list;
    }

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
