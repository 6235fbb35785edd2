using TorchSharp;
using static TorchSharp.torch;

namespace Maskwork.Abstractions;

/// <summary>What token positions mean. Maskers and positional encodings are written against layouts, not modalities.</summary>
public abstract record TokenLayout
{
    /// <summary>Tokens per sample.</summary>
    public abstract int Count { get; }
}

/// <summary>A 1-D sequence of <paramref name="Length"/> tokens.</summary>
public sealed record SequenceLayout(int Length) : TokenLayout
{
    /// <inheritdoc/>
    public override int Count => Length;
}

/// <summary>A regular grid of tokens, row-major, e.g. [7,7] image patches or [T,H,W] tubelets.</summary>
public sealed record GridLayout(int[] Dims) : TokenLayout
{
    /// <inheritdoc/>
    public override int Count => Dims.Aggregate(1, (a, b) => a * b);

    /// <inheritdoc/>
    public bool Equals(GridLayout? other) => other is not null && Dims.SequenceEqual(other.Dims);

    /// <inheritdoc/>
    public override int GetHashCode() => Dims.Aggregate(17, (h, d) => h * 31 + d);

    /// <inheritdoc/>
    public override string ToString() => $"grid[{string.Join('x', Dims)}]";
}

/// <summary>Tokens at continuous coordinates (point-group centres, LiDAR); positions are in <see cref="TokenBatch.Positions"/>.</summary>
public sealed record PointLayout(int Points, int CoordinateDims) : TokenLayout
{
    /// <inheritdoc/>
    public override int Count => Points;
}

/// <summary>Graph nodes as tokens; the edges travel in <see cref="TokenBatch.Extras"/>.</summary>
public sealed record GraphLayout(int Nodes) : TokenLayout
{
    /// <inheritdoc/>
    public override int Count => Nodes;
}

/// <summary>
/// A batch of samples as tokens on the device: <see cref="Tokens"/> [B,N,Din] on <see cref="Layout"/>.
/// Lives inside the training step's dispose scope.
/// </summary>
public sealed record TokenBatch(Tensor Tokens, TokenLayout Layout)
{
    /// <summary>Token coordinates [B,N,P] for continuous layouts, else null.</summary>
    public Tensor? Positions { get; init; }

    /// <summary>True where a token is padding [B,N], else null.</summary>
    public Tensor? Padding { get; init; }

    /// <summary>Class labels [B] when every sample has one, else null.</summary>
    public Tensor? Labels { get; init; }

    /// <summary>Modality-specific tensors (edge lists, group centres…).</summary>
    public IReadOnlyDictionary<string, Tensor> Extras { get; init; } = new Dictionary<string, Tensor>();

    /// <summary>Batch size.</summary>
    public long BatchSize => Tokens.shape[0];

    /// <summary>Tokens per sample.</summary>
    public long TokenCount => Tokens.shape[1];
}

/// <summary>Turns samples into tokens and back.</summary>
public interface ITokenizer
{
    /// <summary>Samples → tokens on <paramref name="device"/>.</summary>
    TokenBatch Tokenize(IReadOnlyList<Sample> batch, Device device);

    /// <summary>Tokens [B,N,Din] shaped like <paramref name="like"/> → samples' dense tensor [B,...]; the exact inverse of <see cref="Tokenize"/>.</summary>
    Tensor Detokenize(Tensor tokens, TokenBatch like);
}
