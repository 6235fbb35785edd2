using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Nn;
using Maskwork.Backend.Tokenization;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Voxel.Tokenization;

/// <summary>
/// Voxel grids [C, S, S, S] (axis 0 up) → the backend's <see cref="GridTokenizer"/> with p³ patches (axes z, y, x;
/// 3-D sin-cos positions in the encoder). While <see cref="AugmentWhile"/> says training, each grid is first turned
/// about the up axis by an angle drawn from its key (seed, epoch, global index) — never a global generator, so a
/// resumed or sliced run sees the same grids — resampled nearest (occupancy stays 0/1, colours stay colours).
/// </summary>
public sealed class VoxelTokenizer(GridTokenizer grid, long seed, double rotateDegrees) : IBackgroundTokenizer
{
    public GridTokenizer Grid => grid;

    /// <summary>Whether to rotate now (the recipe ties it to the encoder's training mode).</summary>
    public Func<bool> AugmentWhile { get; set; } = () => true;

    /// <summary>The angle in radians sample <paramref name="s"/> at <paramref name="position"/> turns by.</summary>
    public double Angle(Sample s, int position) =>
        (2 * SampleRandom.Uniform(SampleRandom.Key(seed, s, 0, position), 0) - 1) * rotateDegrees * Math.PI / 180;

    public TokenBatch Tokenize(IReadOnlyList<Sample> batch, Device device)
    {
        if (!(rotateDegrees > 0) || !AugmentWhile()) return grid.Tokenize(batch, device);
        using var scope = NewDisposeScope();
        var rotated = Rotate(batch, batch.Select((s, i) => Angle(s, i)).ToArray());
        var tokens = grid.Tokenize(rotated, device);
        scope.Detach(PreparedBatch.TensorsOf(tokens).Distinct(ReferenceEqualityComparer.Instance).Cast<IDisposable>().ToArray());
        return tokens;
    }

    /// <summary>The grids turned about axis 0 by <paramref name="angles"/> (radians, counter-clockwise seen from above), as float32 samples.</summary>
    public static Sample[] Rotate(IReadOnlyList<Sample> batch, double[] angles)
    {
        using var scope = NewDisposeScope();
        var shape = batch[0].Shape;
        long per = batch[0].ValueCount;
        var data = new float[batch.Count * per];
        for (int i = 0; i < batch.Count; i++)
        {
            if (!batch[i].Shape.SequenceEqual(shape)) throw new InvalidDataFileException(batch[i].Source, $"grid [{string.Join(',', batch[i].Shape)}] in a batch of [{string.Join(',', shape)}]");
            batch[i].CopyValuesTo(new Span<float>(data, (int)(i * per), (int)per));
        }
        var x = tensor(data, [batch.Count, .. shape.Select(s => (long)s)]);
        // affine_grid works in (x, y, z) = (W, H, D): a turn about D mixes W and H.
        var theta = new float[batch.Count * 12];
        for (int i = 0; i < batch.Count; i++)
        {
            float c = (float)Math.Cos(angles[i]), s = (float)Math.Sin(angles[i]);
            float[] row = [c, -s, 0, 0, s, c, 0, 0, 0, 0, 1, 0];
            Array.Copy(row, 0, theta, i * 12, 12);
        }
        var sampling = nn.functional.affine_grid(tensor(theta, [batch.Count, 3, 4]), x.shape, align_corners: false);
        var turned = nn.functional.grid_sample(x, sampling, mode: GridSampleMode.Nearest, padding_mode: GridSamplePaddingMode.Zeros, align_corners: false).contiguous();
        var flat = turned.data<float>().ToArray();
        var result = new Sample[batch.Count];
        for (int i = 0; i < batch.Count; i++)
        {
            var v = new float[per];
            Array.Copy(flat, i * per, v, 0, per);
            result[i] = new Sample(v, shape, batch[i].Label, batch[i].Source) { Index = batch[i].Index, Epoch = batch[i].Epoch, Split = batch[i].Split };
        }
        return result;
    }

    public Tensor Detokenize(Tensor tokens, TokenBatch like) => grid.Detokenize(tokens, like);
}
