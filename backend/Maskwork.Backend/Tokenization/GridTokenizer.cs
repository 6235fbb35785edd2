using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using static TorchSharp.torch;

namespace Maskwork.Backend.Tokenization;

/// <summary>
/// Dense grids of rank 1–3 with any channel count — samples [C, d1(, d2(, d3))]: series, images, tubelets,
/// volumes, voxels — cut into non-overlapping patches of <c>patch[a]</c> along each axis a, each flattened
/// (p1, …, pr, C) channels last as in MAE, after per-channel normalisation. The token layout is the grid of
/// patches with the given axis roles. <see cref="Detokenize"/> is the exact inverse. Pure tensor ops (no
/// RNG), so the trainer tokenizes on its background data thread.
/// </summary>
public sealed class GridTokenizer : IBackgroundTokenizer
{
    readonly float[] mean, std;
    readonly long[] size, patch, grid;

    /// <param name="size">Sample extent per axis (without channels), e.g. [28, 28] or [16, 112, 112].</param>
    /// <param name="patch">Patch extent per axis; each must divide its size.</param>
    /// <param name="channels">Channels per position.</param>
    /// <param name="mean">Per-channel mean (one value for all channels, or one per channel).</param>
    /// <param name="std">Per-channel standard deviation, positive.</param>
    /// <param name="axes">Axis roles of the grid (<see cref="GridLayout.Axes"/>), e.g. "t,y,x"; null = the rank's default.</param>
    public GridTokenizer(int[] size, int[] patch, int channels, float[] mean, float[] std, string? axes = null)
    {
        if (size.Length is < 1 or > 3) throw new ArgumentException($"grids have rank 1 to 3, got size [{string.Join(',', size)}]");
        if (patch.Length != size.Length) throw new ArgumentException($"patch [{string.Join(',', patch)}] needs one value per axis of size [{string.Join(',', size)}]");
        if (channels <= 0 || size.Any(s => s <= 0) || patch.Any(p => p <= 0)) throw new ArgumentException("channels, sizes and patches must be positive");
        for (int a = 0; a < size.Length; a++)
            if (size[a] % patch[a] != 0) throw new ArgumentException($"size {size[a]} of axis {a} is not a multiple of patch size {patch[a]}");
        if (mean.Length is not 1 && mean.Length != channels) throw new ArgumentException($"mean has {mean.Length} values for {channels} channels");
        if (std.Length is not 1 && std.Length != channels) throw new ArgumentException($"std has {std.Length} values for {channels} channels");
        if (std.Any(s => s <= 0)) throw new ArgumentException("std values must be positive");
        Channels = channels;
        this.size = size.Select(s => (long)s).ToArray();
        this.patch = patch.Select(p => (long)p).ToArray();
        grid = size.Zip(patch, (s, p) => (long)(s / p)).ToArray();
        this.mean = mean.Length == channels ? mean : Enumerable.Repeat(mean[0], channels).ToArray();
        this.std = std.Length == channels ? std : Enumerable.Repeat(std[0], channels).ToArray();
        Layout = new GridLayout(grid.Select(g => (int)g).ToArray()) { Axes = axes };
        _ = Layout.AxisNames; // validates the axis count
    }

    /// <summary>Square images [C, S, S] in p×p patches.</summary>
    public static GridTokenizer Image(int patch, int channels, int size, float[] mean, float[] std) =>
        new([size, size], [patch, patch], channels, mean, std);

    public int Channels { get; }
    public int Rank => size.Length;

    /// <summary>Sample extent per axis.</summary>
    public IReadOnlyList<long> Size => size;

    /// <summary>Patch extent per axis.</summary>
    public IReadOnlyList<long> Patch => patch;

    /// <summary>Values per token: the patch volume times the channels.</summary>
    public int TokenDim => (int)patch.Aggregate(1L, (a, p) => a * p) * Channels;

    /// <summary>The grid of patches.</summary>
    public GridLayout Layout { get; }

    public TokenBatch Tokenize(IReadOnlyList<Sample> batch, Device device)
    {
        int b = batch.Count;
        long per = Channels * size.Aggregate(1L, (a, s) => a * s);
        var data = new float[b * per];
        bool labelled = true;
        var labels = new long[b];
        var expected = new[] { (long)Channels }.Concat(size).ToArray();
        for (int i = 0; i < b; i++)
        {
            var s = batch[i];
            if (s.ValueCount != per || !s.Shape.Select(d => (long)d).SequenceEqual(expected))
                throw new InvalidDataFileException(s.Source, $"sample of shape [{string.Join(',', s.Shape)}] where [{string.Join(',', expected)}] was expected");
            s.CopyValuesTo(new Span<float>(data, (int)(i * per), (int)per)); // typed (uint8, int16…) samples become float32 here
            if (s.Label is { } l) labels[i] = l; else labelled = false;
        }
        var x = tensor(data, [b, .. expected]);
        var view = new long[] { 1, Channels }.Concat(Enumerable.Repeat(1L, Rank)).ToArray();
        x = (x - tensor(mean).view(view)) / tensor(std).view(view);
        // [B, C, g1, p1, …, gr, pr] → [B, g1…gr, p1…pr, C]
        var split = new List<long> { b, Channels };
        for (int a = 0; a < Rank; a++) { split.Add(grid[a]); split.Add(patch[a]); }
        var order = new List<long> { 0 };
        for (int a = 0; a < Rank; a++) order.Add(2 + 2 * a);
        for (int a = 0; a < Rank; a++) order.Add(3 + 2 * a);
        order.Add(1);
        var tokens = x.reshape([.. split]).permute([.. order]).reshape(b, Layout.Count, TokenDim);
        return new TokenBatch(tokens.to(device), Layout) { Labels = labelled ? tensor(labels, device: device) : null };
    }

    public Tensor Detokenize(Tensor tokens, TokenBatch like)
    {
        long b = tokens.shape[0];
        // [B, g1…gr, p1…pr, C] → [B, C, g1, p1, …, gr, pr] → [B, C, d1…dr]
        var shape = new List<long> { b };
        shape.AddRange(grid);
        shape.AddRange(patch);
        shape.Add(Channels);
        var order = new List<long> { 0, 2L * Rank + 1 };
        for (int a = 0; a < Rank; a++) { order.Add(1 + a); order.Add(1 + Rank + a); }
        var x = tokens.reshape([.. shape]).permute([.. order]).reshape([b, Channels, .. size]);
        var view = new long[] { 1, Channels }.Concat(Enumerable.Repeat(1L, Rank)).ToArray();
        return x * tensor(std, device: tokens.device).view(view) + tensor(mean, device: tokens.device).view(view);
    }
}
