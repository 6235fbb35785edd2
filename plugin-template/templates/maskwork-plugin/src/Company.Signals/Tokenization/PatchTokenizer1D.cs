using Maskwork.Abstractions;
using static TorchSharp.torch;

namespace Company.Signals.Tokenization;

/// <summary>
/// Windows [C, L] → L/p non-overlapping patches of p steps on a 1-D sequence, each flattened (p, C),
/// after per-channel normalisation. <see cref="Detokenize"/> is the exact inverse. Every operation is a
/// tensor op (no per-element loops on the hot path).
/// </summary>
public sealed class PatchTokenizer1D : ITokenizer
{
    readonly float[] mean, std;

    /// <summary>Creates a tokenizer for windows of <paramref name="length"/> steps and <paramref name="channels"/> channels.</summary>
    public PatchTokenizer1D(int patch, int channels, int length, float[] mean, float[] std)
    {
        if (patch <= 0 || channels <= 0 || length <= 0) throw new ArgumentException("patch, channels and length must be positive");
        if (length % patch != 0) throw new ArgumentException($"window length {length} is not a multiple of patch size {patch}");
        if (mean.Length is not 1 && mean.Length != channels) throw new ArgumentException($"mean has {mean.Length} values for {channels} channels");
        if (std.Length is not 1 && std.Length != channels) throw new ArgumentException($"std has {std.Length} values for {channels} channels");
        if (std.Any(s => s <= 0)) throw new ArgumentException("std values must be positive");
        Patch = patch; Channels = channels; Length = length;
        this.mean = mean.Length == channels ? mean : Enumerable.Repeat(mean[0], channels).ToArray();
        this.std = std.Length == channels ? std : Enumerable.Repeat(std[0], channels).ToArray();
    }

    /// <summary>Steps per token.</summary>
    public int Patch { get; }

    /// <summary>Channels per step.</summary>
    public int Channels { get; }

    /// <summary>Steps per window.</summary>
    public int Length { get; }

    /// <summary>Values per token (p · C).</summary>
    public int TokenDim => Patch * Channels;

    /// <summary>The token layout: a sequence of L/p patches.</summary>
    public SequenceLayout Layout => new(Length / Patch);

    /// <inheritdoc/>
    public TokenBatch Tokenize(IReadOnlyList<Sample> batch, Device device)
    {
        int b = batch.Count, per = Channels * Length;
        var data = new float[b * per];
        var labels = new long[b];
        bool labelled = true;
        for (int i = 0; i < b; i++)
        {
            var s = batch[i];
            if (s.Values.Length != per || s.Shape.Length != 2 || s.Shape[0] != Channels || s.Shape[1] != Length)
                throw new InvalidDataFileException(s.Source, $"series window of shape [{string.Join(',', s.Shape)}] where [{Channels},{Length}] was expected");
            Array.Copy(s.Values, 0, data, i * per, per);
            if (s.Label is { } l) labels[i] = l; else labelled = false;
        }
        var x = tensor(data, [b, Channels, Length]);
        x = (x - tensor(mean).view(1, Channels, 1)) / tensor(std).view(1, Channels, 1);
        int n = Length / Patch;
        var tokens = x.reshape(b, Channels, n, Patch).permute(0, 2, 3, 1).reshape(b, n, TokenDim);
        return new TokenBatch(tokens.to(device), Layout) { Labels = labelled ? tensor(labels, device: device) : null };
    }

    /// <inheritdoc/>
    public Tensor Detokenize(Tensor tokens, TokenBatch like)
    {
        long b = tokens.shape[0];
        int n = Length / Patch;
        var x = tokens.reshape(b, n, Patch, Channels).permute(0, 3, 1, 2).reshape(b, Channels, Length);
        return x * tensor(std, device: tokens.device).view(1, Channels, 1) + tensor(mean, device: tokens.device).view(1, Channels, 1);
    }
}
