using Maskwork.Abstractions;
using Maskwork.Backend.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Maskwork.Backend.Data;

/// <summary>
/// MAE's default image augmentation for pretraining, as one batched tensor op: a random resized crop
/// (area fraction in [<see cref="MinScale"/>, 1], aspect ratio in [3/4, 4/3] by default, bilinear resampling back
/// to the input size) and a random horizontal flip. Samples are [C,H,W]. Each sample's crop and flip
/// are drawn from its own key (seed, epoch, global index; <see cref="SampleRandom"/>), never torch's
/// global generator: it may run on the data thread, a resumed run sees the same augmented samples, and
/// a sample's draw does not depend on the batch size, the slicing or the rank.
/// </summary>
public sealed class ImageAugment(long seed, double minScale = 0.2, double flipProbability = 0.5, double maxAspect = 4.0 / 3) : ISampleAugment
{
    public double MinScale { get; } = minScale is > 0 and <= 1 ? minScale : throw new ArgumentOutOfRangeException(nameof(minScale), "must be in (0, 1]");
    public double FlipProbability { get; } = flipProbability;
    /// <summary>Crops have an aspect ratio in [1/maxAspect, maxAspect].</summary>
    public double MaxAspect { get; } = maxAspect >= 1 ? maxAspect : throw new ArgumentOutOfRangeException(nameof(maxAspect), "must be at least 1");

    public IReadOnlyList<Sample> Apply(IReadOnlyList<Sample> batch, long batchIndex)
    {
        if (batch.Count == 0) return batch;
        var shape = batch[0].Shape;
        if (shape.Length != 3) throw new ArgumentException($"image augmentation needs [C,H,W] samples, got [{string.Join(',', shape)}]");
        int b = batch.Count, per = shape[0] * shape[1] * shape[2];
        var data = new float[b * per];
        var u = new float[5][];
        for (int d = 0; d < 5; d++) u[d] = new float[b];
        for (int i = 0; i < b; i++)
        {
            if (!batch[i].Shape.SequenceEqual(shape) || batch[i].ValueCount != per)
                throw new InvalidDataFileException(batch[i].Source, $"image of shape [{string.Join(',', batch[i].Shape)}] in a batch of [{string.Join(',', shape)}]");
            batch[i].CopyValuesTo(data.AsSpan(i * per, per));
            long key = SampleRandom.Key(seed, batch[i], batchIndex, i);
            for (int d = 0; d < 5; d++) u[d][i] = (float)SampleRandom.Uniform(key, d);
        }

        float[] result;
        using (NewDisposeScope())
        using (no_grad())
        {
            // Held scalars: this runs on the prefetch thread beside the training threads.
            using var k = new HeldScalars();
            Tensor Signed(Tensor t) => t.mul(k[2]).sub(k[1]); // uniform [0,1) → [-1,1)
            var x = tensor(data, [b, shape[0], shape[1], shape[2]]);
            var area = tensor(u[0]).mul(k[1 - MinScale]).add(k[MinScale], Held.One);
            var ratio = Signed(tensor(u[1])).mul(k[Math.Log(MaxAspect)]).exp();
            var width = (area * ratio).sqrt().clamp_max(k[1]);
            var height = (area / ratio).sqrt().clamp_max(k[1]);
            var cx = Signed(tensor(u[2])) * width.neg().add(k[1], Held.One);
            var cy = Signed(tensor(u[3])) * height.neg().add(k[1], Held.One);
            var flip = tensor(u[4]).lt(k[FlipProbability]).to_type(ScalarType.Float32).mul(k[-2]).add(k[1], Held.One); // −1 flips, 1 keeps
            var zero = zeros(b);
            var theta = stack([stack([width * flip, zero, cx], 1), stack([zero, height, cy], 1)], 1);
            var grid = nn.functional.affine_grid(theta, [b, shape[0], shape[1], shape[2]], align_corners: false);
            var y = nn.functional.grid_sample(x, grid, GridSampleMode.Bilinear, GridSamplePaddingMode.Border, align_corners: false);
            result = y.contiguous().data<float>().ToArray();
        }
        var output = new Sample[b];
        for (int i = 0; i < b; i++)
        {
            var values = new float[per];
            Array.Copy(result, (long)i * per, values, 0, per);
            output[i] = batch[i] with { Values = values };
        }
        return output;
    }
}
