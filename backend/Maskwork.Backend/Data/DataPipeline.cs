using Maskwork.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace Maskwork.Backend.Data;

/// <summary>
/// A tokenizer whose <see cref="ITokenizer.Tokenize"/> is a pure function of its input (no global
/// RNG, no shared mutable state), so the data pipeline may run it on its background thread, into CPU
/// tensors, while the previous step computes. Tokenizers that draw random numbers from torch's global
/// generator (which the trainer seeds per step) must not implement it; they run on the trainer thread.
/// </summary>
public interface IBackgroundTokenizer : ITokenizer;

/// <summary>
/// A training-time transform of raw samples, run on the data pipeline's background thread. Each
/// sample's draw must be a function of (its own seed, <see cref="Sample.Epoch"/>, <see cref="Sample.Index"/>)
/// — see <see cref="SampleRandom"/> — never of the batch, its size, the slicing or the rank, and must not
/// use torch's global generator, so a resumed or re-sliced run sees exactly the same samples.
/// <c>batchIndex</c> only keys samples that carry no index (<see cref="Sample.Index"/> = -1).
/// </summary>
public interface ISampleAugment
{
    IReadOnlyList<Sample> Apply(IReadOnlyList<Sample> batch, long batchIndex);
}

/// <summary>
/// Per-sample random numbers keyed by (seed, epoch, global index): the same sample gets the same draw
/// whatever batch, slice or rank it lands in. A sample without an index (-1) falls back to
/// (batch index, position in the batch).
/// </summary>
public static class SampleRandom
{
    /// <summary>The key of <paramref name="sample"/> at <paramref name="position"/> of batch <paramref name="batchIndex"/>.</summary>
    public static long Key(long seed, Sample sample, long batchIndex, int position) =>
        sample.Index >= 0 ? SeedMix.Of(seed, sample.Index, sample.Epoch) : SeedMix.Of(seed ^ 0x0b47c4, batchIndex, position);

    /// <summary>Uniform draw number <paramref name="draw"/> in [0, 1) for a sample key.</summary>
    public static double Uniform(long key, int draw) => (SeedMix.Of(key, draw) >> 10) * (1.0 / (1L << 53));
}

/// <summary>One batch as the background pipeline prepared it: the samples and, when the tokenizer allows, its CPU tokens.</summary>
public sealed class PreparedBatch(IReadOnlyList<Sample> samples, TokenBatch? tokens) : IDisposable
{
    public IReadOnlyList<Sample> Samples { get; } = samples;

    /// <summary>Tokens made on the background thread (CPU), or null when the trainer must tokenize.</summary>
    public TokenBatch? Tokens { get; private set; } = tokens;

    /// <summary>Every tensor a token batch holds (tokens, positions, padding, labels, extras).</summary>
    public static IEnumerable<Tensor> TensorsOf(TokenBatch t)
    {
        yield return t.Tokens;
        if (t.Positions is not null) yield return t.Positions;
        if (t.Padding is not null) yield return t.Padding;
        if (t.Labels is not null) yield return t.Labels;
        if (t.SampleKeys is not null) yield return t.SampleKeys;
        foreach (var e in t.Extras.Values) yield return e;
    }

    /// <summary>Makes a batch on the calling (background) thread: augmentation, then tokenization into tensors that belong to no dispose scope.</summary>
    public static PreparedBatch Make(IReadOnlyList<Sample> samples, long batchIndex, ISampleAugment? augment, ITokenizer tokenizer)
    {
        if (augment is not null) samples = augment.Apply(samples, batchIndex);
        if (tokenizer is not IBackgroundTokenizer) return new PreparedBatch(samples, null);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var tokens = tokenizer.Tokenize(samples, CPU);
        // Keep only the batch's own tensors; every intermediate of Tokenize dies with the scope.
        scope.Detach(TensorsOf(tokens).Distinct(ReferenceEqualityComparer.Instance).Cast<IDisposable>().ToArray());
        return new PreparedBatch(samples, tokens);
    }

    /// <summary>
    /// Makes a batch split into <paramref name="slices"/> contiguous slices (sizes differ by at most one;
    /// fewer when the batch has fewer samples), each tokenized on its own: augmentation sees the whole
    /// batch, so its draws do not depend on the slicing.
    /// </summary>
    public static PreparedBatch[] MakeSlices(IReadOnlyList<Sample> samples, long batchIndex, ISampleAugment? augment, ITokenizer tokenizer, int slices)
    {
        if (augment is not null) samples = augment.Apply(samples, batchIndex);
        int n = Math.Clamp(slices, 1, Math.Max(1, samples.Count));
        var made = new List<PreparedBatch>(n);
        try
        {
            for (int i = 0; i < n; i++)
            {
                int from = i * samples.Count / n, to = (i + 1) * samples.Count / n;
                made.Add(Make(n == 1 ? samples : samples.Skip(from).Take(to - from).ToArray(), batchIndex, null, tokenizer));
            }
            return [.. made];
        }
        catch
        {
            foreach (var b in made) b.Dispose();
            throw;
        }
    }

    /// <summary>Disposes the background-made tensors (they live in no dispose scope of the trainer thread).</summary>
    public void Dispose()
    {
        if (Tokens is null) return;
        foreach (var t in TensorsOf(Tokens).Distinct(ReferenceEqualityComparer.Instance).Cast<Tensor>()) t.Dispose();
        Tokens = null;
    }
}
