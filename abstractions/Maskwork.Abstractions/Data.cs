namespace Maskwork.Abstractions;

/// <summary>
/// One raw example as a reader produced it: a dense float array with its shape (for an image
/// [C,H,W] in [0,1]; for a point cloud [N,3+F]), an optional class label and where it came from.
/// Modalities whose samples are not one dense array derive from this record.
/// </summary>
public record Sample(float[] Values, int[] Shape, int? Label, string Source)
{
    /// <summary>The split this sample belongs to when the source defines one ("train", "val", "test"), else null.</summary>
    public string? Split { get; init; }

    /// <summary>
    /// The sample's global index in its source: stable across epochs, batch sizes, slices and ranks;
    /// -1 when the reader does not know it. Per-sample randomness (clips, crops, augmentation, masks)
    /// is keyed by (seed, <see cref="Epoch"/>, <see cref="Index"/>), never by batch position.
    /// </summary>
    public long Index { get; init; } = -1;

    /// <summary>The epoch the source read this sample for (0-based).</summary>
    public int Epoch { get; init; }
}

/// <summary>
/// What to read: <c>&lt;reader&gt;:&lt;path&gt;</c> or a bare built-in name such as <c>fashion-mnist</c>.
/// </summary>
/// <param name="Reader">Reader name.</param>
/// <param name="Path">File or folder; empty when the reader knows where its data lives.</param>
public sealed record DataSpec(string Reader, string Path)
{
    /// <summary>Which split to read ("train", "test"), or null for everything the source has.</summary>
    public string? Split { get; init; }

    /// <summary>Reader options (for images: size, channels). Values come from the recipe and <c>--set data.k=v</c>.</summary>
    public IReadOnlyDictionary<string, string> Options { get; init; } = new Dictionary<string, string>();

    /// <summary>Parses <c>reader:path</c>, or a bare reader name.</summary>
    public static DataSpec Parse(string spec)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(spec);
        int colon = spec.IndexOf(':');
        return colon < 0 ? new DataSpec(spec.Trim(), "") : new DataSpec(spec[..colon].Trim(), spec[(colon + 1)..].Trim());
    }

    /// <summary>An option's value, or <paramref name="fallback"/>.</summary>
    public string Option(string key, string fallback) => Options.TryGetValue(key, out var v) ? v : fallback;

    /// <inheritdoc/>
    public override string ToString() => Path.Length == 0 ? Reader : $"{Reader}:{Path}";
}

/// <summary>Receives the inputs a reader could not use. Shared by a whole read so counts add up.</summary>
public interface IDataIssues
{
    /// <summary>Records that <paramref name="file"/> was skipped and why; throws <see cref="InvalidDataFileException"/> when the run is configured to fail fast.</summary>
    void Skip(string file, string reason);
}

/// <summary>An input file that cannot be used: truncated, wrong header, wrong shape.</summary>
public sealed class InvalidDataFileException(string file, string reason, Exception? inner = null)
    : Exception($"{file}: {reason}", inner)
{
    /// <summary>The offending file.</summary>
    public string File { get; } = file;

    /// <summary>What is wrong with it.</summary>
    public string Reason { get; } = reason;
}

/// <summary>Reads raw files (or Parquet) into samples.</summary>
public interface IDatasetReader
{
    /// <summary>Name used in data specs ("fashion-mnist", "image-folder", "parquet").</summary>
    string Name { get; }

    /// <summary>One line for humans.</summary>
    string Description { get; }

    /// <summary>
    /// Streams the samples of <paramref name="spec"/>. Unusable files are reported to
    /// <paramref name="issues"/> and skipped; a missing source throws <see cref="FileNotFoundException"/>
    /// or <see cref="DirectoryNotFoundException"/> with a message that says what to do.
    /// </summary>
    IAsyncEnumerable<Sample> ReadAsync(DataSpec spec, IDataIssues issues, CancellationToken ct);
}
