using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Nn;
using static TorchSharp.torch;

namespace Maskwork.Backend.Masking;

/// <summary>
/// Per-sample random numbers for maskers, counter-based: sample i's numbers are a hash of
/// (seed, step, key i, stream, element index), computed in tensor ops over the whole batch (no generator
/// per sample). The key is <see cref="TokenBatch.SampleKeys"/> (the sample's global index), so a sample
/// gets the same mask in any batch position, batch size, slice or rank. Without keys (a caller that set
/// none), each sample's key is drawn from the context's generator: deterministic in the generator's seed
/// but tied to the batch.
/// </summary>
public sealed class MaskRandom
{
    const long Mask32 = 0xffffffffL;
    readonly long[] lo, hi;
    readonly Device device;

    MaskRandom(long[] lo, long[] hi, Device device)
    {
        this.lo = lo; this.hi = hi; this.device = device;
    }

    /// <summary>Samples in the batch.</summary>
    public int Batch => lo.Length;

    /// <summary>The per-sample keys of <paramref name="tokens"/> (or generator-drawn ones) mixed with the context's seed and step.</summary>
    public static MaskRandom For(TokenBatch tokens, MaskContext context)
    {
        long b = tokens.BatchSize;
        long[] keys;
        if (tokens.SampleKeys is { } k)
        {
            if (k.shape.Length != 1 || k.shape[0] != b) throw new ArgumentException($"SampleKeys has shape [{string.Join(',', k.shape)}], expected [{b}]");
            keys = k.to_type(ScalarType.Int64).cpu().data<long>().ToArray();
        }
        else
        {
            using var drawn = randint(long.MaxValue, [b], dtype: ScalarType.Int64, generator: context.Generator);
            keys = drawn.data<long>().ToArray();
        }
        var lo = new long[b];
        var hi = new long[b];
        for (int i = 0; i < b; i++)
        {
            long h = SeedMix.Of(context.Seed, context.Step, keys[i]);
            lo[i] = h & Mask32;
            hi[i] = (h >> 32) & Mask32;
        }
        return new MaskRandom(lo, hi, tokens.Tokens.device);
    }

    /// <summary>Keys for a batch of samples: their global index where known, else <c>-(1 + firstPosition + i)</c>, their position in the step's batch.</summary>
    public static Tensor KeysOf(IReadOnlyList<Sample> samples, long firstPosition = 0)
    {
        var keys = new long[samples.Count];
        for (int i = 0; i < keys.Length; i++) keys[i] = samples[i].Index >= 0 ? samples[i].Index : -(1 + firstPosition + i);
        return tensor(keys);
    }

    /// <summary>Raw 32-bit hashes [B, shape...] (int64 holding values in [0, 2³²)) of stream <paramref name="stream"/>.</summary>
    public Tensor Bits(long stream, params long[] shape)
    {
        using var k = new HeldScalars();
        using var c = new Constants(device);
        long per = shape.Aggregate(1L, (a, c) => a * c);
        var baseLo = tensor(lo, device: device).view(-1, 1);
        // The stream is mixed into the second key half on the CPU (B values), so streams never share counters.
        var streamHi = new long[hi.Length];
        for (int i = 0; i < hi.Length; i++) streamHi[i] = SeedMix.Of(hi[i], stream) & Mask32;
        var baseHi = tensor(streamHi, device: device).view(-1, 1);
        // Counter: element index spread by a Weyl constant, then rounds
        // of a 32-bit avalanche hash keyed by the sample's two halves. Products stay inside int64 (counter < 2³¹, constants < 2³²).
        var counter = arange(per, dtype: ScalarType.Int64, device: device).view(1, -1);
        var x = counter.mul(k.Int(0x9E3779B1L)).add(baseLo, Held.One).bitwise_and(c.Mask);
        x = Avalanche(x, k, c);
        x = Avalanche(x.bitwise_xor(baseHi), k, c);
        x = Avalanche(x.add(k.Int(0x1b873593L), Held.One).bitwise_and(c.Mask), k, c);
        return x.view([Batch, .. shape]);
    }

    /// <summary>Uniform floats in [0, 1) [B, shape...] from stream <paramref name="stream"/> (24 random bits each).</summary>
    public Tensor Uniform(long stream, params long[] shape)
    {
        using var k = new HeldScalars();
        using var c = new Constants(device);
        return Bits(stream, shape).bitwise_right_shift(c.Eight).to_type(ScalarType.Float32).mul(k[1.0 / (1 << 24)]);
    }

    /// <summary>Standard normal floats [B, shape...] (Box–Muller over streams 2·stream and 2·stream+1).</summary>
    public Tensor Normal(long stream, params long[] shape)
    {
        using var k = new HeldScalars();
        var u1 = Uniform(2 * stream + 1000, shape).add(k[0.5 / (1 << 24)], Held.One);
        var u2 = Uniform(2 * stream + 1001, shape);
        return u1.log().mul(k[-2.0]).sqrt().mul(u2.mul(k[2 * Math.PI]).cos());
    }

    /// <summary>Integer constants as tensors: TorchSharp's bitwise ops take tensors, not Scalars.</summary>
    sealed class Constants(Device device) : IDisposable
    {
        public readonly Tensor Mask = tensor(Mask32, device: device), Sixteen = tensor(16L, device: device), Eight = tensor(8L, device: device);

        public void Dispose()
        {
            Mask.Dispose(); Sixteen.Dispose(); Eight.Dispose();
        }
    }

    static Tensor Avalanche(Tensor x, HeldScalars k, Constants c)
    {
        // Thomas Mueller's 32-bit integer hash: x ^= x>>16; x *= 0x45d9f3b; (twice); x ^= x>>16.
        x = x.bitwise_xor(x.bitwise_right_shift(c.Sixteen));
        x = x.mul(k.Int(0x45d9f3bL)).bitwise_and(c.Mask);
        x = x.bitwise_xor(x.bitwise_right_shift(c.Sixteen));
        x = x.mul(k.Int(0x45d9f3bL)).bitwise_and(c.Mask);
        return x.bitwise_xor(x.bitwise_right_shift(c.Sixteen));
    }
}
