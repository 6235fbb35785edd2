using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Nn;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Volume.Tokenization;

/// <summary>Training-time crop augmentation (SelfMedMAE / MONAI: RandSpatialCrop, RandFlip, RandRotate90, RandScale/ShiftIntensity).</summary>
/// <param name="FlipProbability">Per axis, the chance to flip it.</param>
/// <param name="RotateProbability">Chance of a 90°·k (k = 1…3) rotation in the axial (y, x) plane; only when the crop's y and x sizes are equal.</param>
/// <param name="IntensityProbability">Chance of scaling intensities by 1 + U(−s, s) and, independently, shifting them by U(−s, s).</param>
/// <param name="IntensityAmount">s above.</param>
/// <param name="FlipAxes">The axes a flip may mirror, of z, y, x (null: all three); x alone is a left–right mirror in RAS.</param>
public sealed record CropAugment(double FlipProbability = 0.2, double RotateProbability = 0.2, double IntensityProbability = 0.1, double IntensityAmount = 0.1,
    IReadOnlyList<string>? FlipAxes = null)
{
    /// <summary>Whether axis d (0 = z, 1 = y, 2 = x) may flip.</summary>
    public bool Flips(int d) => FlipAxes is null || FlipAxes.Contains(AxisNames[d]);

    static readonly string[] AxisNames = ["z", "y", "x"];

    /// <summary>Checks axis names (z, y, x).</summary>
    public static IReadOnlyList<string> ParseAxes(IReadOnlyList<string> axes) =>
        axes.All(a => AxisNames.Contains(a)) ? axes : throw new ArgumentException($"model.flip_axes takes z, y and x, got '{string.Join(',', axes)}'");

    public static readonly CropAugment None = new(0, 0, 0, 0);
}

/// <summary>
/// Cuts fixed-size crops [C, cz, cy, cx] from volumes of any size: random while training (position, flips, rotations,
/// intensity from the sample's key (seed, epoch, global index), never a global generator), centred otherwise.
/// A volume smaller than the crop is padded with zeros (background after CT windowing or MR z-scoring).
/// Tensor ops per sample (narrow, pad, flip, rot90); no per-voxel loops.
/// </summary>
public sealed class VolumeCrops(int[] crop, long seed, CropAugment augment)
{
    public IReadOnlyList<int> Crop => crop;

    /// <summary>Draw d of sample i's key.</summary>
    static double U(long key, int d) => SampleRandom.Uniform(key, d);

    /// <summary>The batch as one [B, C, cz, cy, cx] tensor.</summary>
    public Tensor Apply(IReadOnlyList<Sample> batch, bool random)
    {
        var crops = new List<Tensor>(batch.Count);
        using var k = new HeldScalars();
        for (int i = 0; i < batch.Count; i++)
        {
            var s = batch[i];
            if (s.Shape.Length != 4) throw new InvalidDataFileException(s.Source, $"a volume sample is [C, Z, Y, X], this one is [{string.Join(',', s.Shape)}]");
            // A float sample's array goes to native memory directly (no managed copy: less GC beside the training threads).
            float[] values = s.DType == SampleDType.Float32 && s.Data.IsEmpty ? s.Values : CopyOf(s);
            var x = tensor(values, s.Shape.Select(v => (long)v).ToArray());
            long key = SampleRandom.Key(seed, s, 0, i);
            crops.Add(One(x, random, key, k));
        }
        return stack(crops);
    }

    static float[] CopyOf(Sample s)
    {
        var values = new float[s.ValueCount];
        s.CopyValuesTo(values);
        return values;
    }

    /// <summary>The crop origin (z, y, x) in the (padded) sample, for tests and pictures.</summary>
    public long[] Origin(int[] shape, bool random, long key)
    {
        var origin = new long[3];
        for (int d = 0; d < 3; d++)
        {
            long extent = Math.Max(shape[d + 1], crop[d]), room = extent - crop[d];
            origin[d] = random ? (long)Math.Floor(U(key, d) * (room + 1)) : room / 2;
            origin[d] = Math.Min(origin[d], room);
        }
        return origin;
    }

    Tensor One(Tensor x, bool random, long key, HeldScalars k)
    {
        // Pad each axis up to the crop (split evenly before/after).
        var pad = new long[6];
        for (int d = 0; d < 3; d++)
        {
            long missing = Math.Max(0, crop[d] - x.shape[d + 1]);
            // pad() lists the last dim first: (x before, x after, y before, y after, z before, z after)
            pad[(2 - d) * 2] = missing / 2;
            pad[(2 - d) * 2 + 1] = missing - missing / 2;
        }
        if (pad.Any(p => p > 0)) x = nn.functional.pad(x, pad);
        var origin = Origin(x.shape.Select(v => (int)v).ToArray(), random, key);
        x = x.narrow(1, origin[0], crop[0]).narrow(2, origin[1], crop[1]).narrow(3, origin[2], crop[2]);
        if (!random) return x.contiguous();
        var flips = Enumerable.Range(0, 3).Where(d => U(key, 3 + d) < augment.FlipProbability && augment.Flips(d)).Select(d => (long)(d + 1)).ToArray();
        if (flips.Length > 0) x = x.flip(flips);
        if (crop[1] == crop[2] && U(key, 6) < augment.RotateProbability)
            x = x.rot90(1 + (long)Math.Floor(U(key, 7) * 3) % 3, (2, 3));
        if (U(key, 8) < augment.IntensityProbability) x = x.mul(k[1 + (2 * U(key, 9) - 1) * augment.IntensityAmount]);
        if (U(key, 10) < augment.IntensityProbability) x = x.add(k[(2 * U(key, 11) - 1) * augment.IntensityAmount], Held.One);
        return x.contiguous();
    }
}

/// <summary>
/// The volume tokenizer: crops (<see cref="VolumeCrops"/>) then the backend's <see cref="Backend.Tokenization.GridTokenizer"/>
/// on [C, cz, cy, cx] with p³ patches (axes z, y, x). Random crops while <see cref="AugmentWhile"/> says training,
/// centre crops otherwise (probes, pictures). A pure function of the samples (their keys), so it runs on the data thread.
/// </summary>
public sealed class VolumeTokenizer(VolumeCrops crops, Backend.Tokenization.GridTokenizer grid) : IBackgroundTokenizer
{
    public Backend.Tokenization.GridTokenizer Grid => grid;
    public VolumeCrops Crops => crops;

    /// <summary>Whether to draw random crops and augmentation now (the recipe ties it to the encoder's training mode).</summary>
    public Func<bool> AugmentWhile { get; set; } = () => true;

    public TokenBatch Tokenize(IReadOnlyList<Sample> batch, Device device)
    {
        using var scope = NewDisposeScope();
        var cropped = crops.Apply(batch, AugmentWhile());
        var samples = new Sample[batch.Count];
        long per = cropped[0].numel();
        var flat = cropped.contiguous().data<float>().ToArray();
        var shape = cropped.shape.Skip(1).Select(v => (int)v).ToArray();
        for (int i = 0; i < batch.Count; i++)
        {
            var v = new float[per];
            Array.Copy(flat, i * per, v, 0, per);
            samples[i] = new Sample(v, shape, batch[i].Label, batch[i].Source) { Index = batch[i].Index, Epoch = batch[i].Epoch, Split = batch[i].Split };
        }
        var tokens = grid.Tokenize(samples, device);
        // A small dataset (one brain) repeats a sample within a batch, once per epoch: key masks by (index, epoch), so
        // repeats get different masks (the trainer's default key is the index alone).
        if (batch.All(s => s.Index >= 0))
            tokens = tokens with { SampleKeys = tensor(batch.Select(s => SeedMix.Of(0x7e3d, s.Index, s.Epoch)).ToArray(), device: device) };
        // PreparedBatch.TensorsOf does not list SampleKeys: detach it too (a [B] int64 tensor, freed by its finalizer).
        var keep = PreparedBatch.TensorsOf(tokens).Concat(tokens.SampleKeys is { } sk ? [sk] : []);
        scope.Detach(keep.Distinct(ReferenceEqualityComparer.Instance).Cast<IDisposable>().ToArray());
        return tokens;
    }

    public Tensor Detokenize(Tensor tokens, TokenBatch like) => grid.Detokenize(tokens, like);
}
