using Maskwork.Abstractions;
using static TorchSharp.torch;

namespace Maskwork.Tests.Shared;

/// <summary>A tiny 1-D modality for tests of the backend's machinery: each sample is [N, D] floats on a sequence layout.</summary>
sealed class SequenceTokenizer(int tokens, int dim) : ITokenizer
{
    public TokenBatch Tokenize(IReadOnlyList<Sample> batch, Device device)
    {
        var data = batch.SelectMany(s => s.Values).ToArray();
        return new TokenBatch(tensor(data, [batch.Count, tokens, dim]).to(device), new SequenceLayout(tokens));
    }

    public Tensor Detokenize(Tensor t, TokenBatch like) => t;
}

static class Sequences
{
    public const int Tokens = 16, Dim = 8;

    /// <summary>Smooth random sequences: sums of sinusoids with per-sample phase and frequency, so masked tokens are predictable; labels alternate.</summary>
    public static List<Sample> Samples(int count, int seed, string name)
    {
        var rng = new Random(seed);
        var list = new List<Sample>();
        for (int i = 0; i < count; i++)
        {
            double phase = rng.NextDouble() * Math.PI * 2, freq = 0.2 + rng.NextDouble() * 0.3;
            var v = new float[Tokens * Dim];
            for (int t = 0; t < Tokens; t++)
                for (int d = 0; d < Dim; d++) v[t * Dim + d] = (float)Math.Sin(phase + freq * t + d * 0.5);
            list.Add(new Sample(v, [Tokens, Dim], i % 2, $"{name}#{i}"));
        }
        return list;
    }
}
