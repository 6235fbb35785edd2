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
    /// <summary>Tokens per sample.</summary>
    public override int Count => Dims.Aggregate(1, (a, b) => a * b);

    /// <summary>
    /// The role of each axis, comma-separated, one name per axis: <c>t</c> (time), <c>z</c>, <c>y</c>, <c>x</c>
    /// (space), e.g. <c>"t,y,x"</c> for tubelets and <c>"z,y,x"</c> for volumes, so a tube mask can tell T×H×W
    /// from D×H×W. Null means the default for the rank: <c>x</c>, <c>y,x</c>, <c>z,y,x</c> (all spatial).
    /// </summary>
    public string? Axes { get; init; }

    /// <summary>The axis names, one per axis (<see cref="Axes"/> or the rank's default).</summary>
    public IReadOnlyList<string> AxisNames
    {
        get
        {
            var names = Axes is null ? DefaultAxes(Dims.Length) : Axes.Split(',', StringSplitOptions.TrimEntries);
            if (names.Length != Dims.Length)
                throw new ArgumentException($"grid {this} has {Dims.Length} axes but Axes names {names.Length} ('{Axes}')");
            return names;
        }
    }

    /// <summary>Index of the time axis (<c>t</c>), or -1 when the grid is all space.</summary>
    public int TimeAxis => Array.IndexOf(AxisNames.ToArray(), "t");

    static string[] DefaultAxes(int rank) => rank switch
    {
        1 => ["x"],
        2 => ["y", "x"],
        3 => ["z", "y", "x"],
        _ => Enumerable.Range(0, rank).Select(i => $"s{i}").ToArray(),
    };

    /// <inheritdoc/>
    public bool Equals(GridLayout? other) => other is not null && Dims.SequenceEqual(other.Dims) && string.Join(',', AxisNamesOrNull()) == string.Join(',', other.AxisNamesOrNull());

    string[] AxisNamesOrNull() => Axes is null ? DefaultAxes(Dims.Length) : Axes.Split(',', StringSplitOptions.TrimEntries);

    /// <inheritdoc/>
    public override int GetHashCode() => Dims.Aggregate(17, (h, d) => h * 31 + d);

    /// <inheritdoc/>
    public override string ToString() => Axes is null ? $"grid[{string.Join('x', Dims)}]" : $"grid[{string.Join('x', Dims)}]({Axes})";
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

    /// <summary>
    /// Per-sample keys [B] int64 that per-sample randomness (masks) derives from, with the run's seed and
    /// the step: the sample's global index (<see cref="Sample.Index"/>) where known, so a sample's mask does
    /// not depend on its batch position, the batch size, slices or ranks. Null: maskers fall back to the
    /// context's generator.
    /// </summary>
    public Tensor? SampleKeys { get; init; }

    /// <summary>
    /// For a batch of <see cref="MultiPartSample"/>s: one batch per named part, each on its own layout with its own
    /// padding. The composite batch's own <see cref="Tokens"/> and <see cref="Layout"/> are its primary part's, so
    /// code that knows nothing of parts sees the primary modality. Null for single-modality batches.
    /// </summary>
    public IReadOnlyDictionary<string, TokenBatch>? Parts { get; init; }

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
