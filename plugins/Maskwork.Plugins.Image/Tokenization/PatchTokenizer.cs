using Maskwork.Abstractions;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Image.Tokenization;

/// <summary>
/// Square images [C,S,S] → non-overlapping p×p patches on a 2-D grid, each flattened (p, p, C) as in
/// MAE, after per-channel normalisation. <see cref="Detokenize"/> is the exact inverse. Pure (no RNG),
/// so the trainer tokenizes on its background data thread.
/// </summary>
public sealed class PatchTokenizer : ITokenizer, Maskwork.Backend.Data.IBackgroundTokenizer
{
    readonly float[] mean, std;

    public PatchTokenizer(int patch, int channels, int size, float[] mean, float[] std)
    {
        if (size % patch != 0) throw new ArgumentException($"image size {size} is not a multiple of patch size {patch}");
        if (mean.Length is not 1 && mean.Length != channels) throw new ArgumentException($"mean has {mean.Length} values for {channels} channels");
        if (std.Length is not 1 && std.Length != channels) throw new ArgumentException($"std has {std.Length} values for {channels} channels");
        if (std.Any(s => s <= 0)) throw new ArgumentException("std values must be positive");
        Patch = patch; Channels = channels; Size = size;
        this.mean = Expand(mean, channels);
        this.std = Expand(std, channels);
    }

    public int Patch { get; }
    public int Channels { get; }
    public int Size { get; }
    public int Side => Size / Patch;
    public int TokenDim => Patch * Patch * Channels;
    public GridLayout Layout => new([Side, Side]);

    static float[] Expand(float[] v, int c) => v.Length == c ? v : Enumerable.Repeat(v[0], c).ToArray();

    public TokenBatch Tokenize(IReadOnlyList<Sample> batch, Device device)
    {
        int b = batch.Count, per = Channels * Size * Size;
        var data = new float[b * per];
        bool labelled = true;
        var labels = new long[b];
        for (int i = 0; i < batch.Count; i++)
        {
            var s = batch[i];
            if (s.ValueCount != per || s.Shape.Length != 3 || s.Shape[0] != Channels || s.Shape[1] != Size || s.Shape[2] != Size)
                throw new InvalidDataFileException(s.Source, $"image of shape [{string.Join(',', s.Shape)}] where [{Channels},{Size},{Size}] was expected");
            s.CopyValuesTo(data.AsSpan(i * per, per)); // typed (uint8) samples become float32 here
            if (s.Label is { } l) labels[i] = l; else labelled = false;
        }
        var x = tensor(data, [b, Channels, Size, Size]);
        x = (x - tensor(mean).view(1, Channels, 1, 1)) / tensor(std).view(1, Channels, 1, 1);
        int h = Side;
        var tokens = x.reshape(b, Channels, h, Patch, h, Patch).permute(0, 2, 4, 3, 5, 1).reshape(b, h * h, TokenDim);
        return new TokenBatch(tokens.to(device), Layout) { Labels = labelled ? tensor(labels, device: device) : null };
    }

    public Tensor Detokenize(Tensor tokens, TokenBatch like)
    {
        long b = tokens.shape[0];
        int h = Side;
        var x = tokens.reshape(b, h, h, Patch, Patch, Channels).permute(0, 5, 1, 3, 2, 4).reshape(b, Channels, Size, Size);
        return x * tensor(std, device: tokens.device).view(1, Channels, 1, 1) + tensor(mean, device: tokens.device).view(1, Channels, 1, 1);
    }
}
