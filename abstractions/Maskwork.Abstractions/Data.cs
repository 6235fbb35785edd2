using System.Runtime.InteropServices;

namespace Maskwork.Abstractions;

/// <summary>The element type a sample's values are stored in (little-endian).</summary>
public enum SampleDType
{
    /// <summary>32-bit float (what <see cref="Sample.Values"/> holds).</summary>
    Float32 = 0,
    /// <summary>Unsigned byte (pixels).</summary>
    UInt8 = 1,
    /// <summary>Signed 16-bit integer (CT Hounsfield units, audio).</summary>
    Int16 = 2,
    /// <summary>Unsigned 16-bit integer (depth maps, 16-bit images).</summary>
    UInt16 = 3,
    /// <summary>IEEE half-precision float.</summary>
    Float16 = 4,
}

/// <summary>Sizes and names of <see cref="SampleDType"/> (the names are the dataset format's <c>dtype</c> column).</summary>
public static class SampleDTypes
{
    /// <summary>Bytes per element.</summary>
    public static int Size(SampleDType dtype) => dtype switch
    {
        SampleDType.Float32 => 4, SampleDType.UInt8 => 1, SampleDType.Int16 or SampleDType.UInt16 or SampleDType.Float16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown dtype"),
    };

    /// <summary>The lower-case name: float32, uint8, int16, uint16, float16.</summary>
    public static string Name(SampleDType dtype) => dtype switch
    {
        SampleDType.Float32 => "float32", SampleDType.UInt8 => "uint8", SampleDType.Int16 => "int16",
        SampleDType.UInt16 => "uint16", SampleDType.Float16 => "float16",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown dtype"),
    };

    /// <summary>Parses a name written by <see cref="Name"/>; false for anything else.</summary>
    public static bool TryParse(string? name, out SampleDType dtype)
    {
        dtype = name switch
        {
            "float32" => SampleDType.Float32, "uint8" => SampleDType.UInt8, "int16" => SampleDType.Int16,
            "uint16" => SampleDType.UInt16, "float16" => SampleDType.Float16, _ => (SampleDType)(-1),
        };
        return (int)dtype >= 0;
    }
}

/// <summary>
/// One raw example as a reader produced it: a dense array with its shape (for an image [C,H,W] in
/// [0,1]; for a point cloud [N,3+F]), an optional class label and where it came from. Modalities whose
/// samples are not one dense array derive from this record.
/// <para>
/// The values are either a <c>float[]</c> (<see cref="Values"/>, the constructor) or, for a typed
/// sample made by <see cref="Typed"/>, raw little-endian bytes in their natural type (uint8 pixels,
/// int16 CT) that become float32 only in the batch: tokenizers call <see cref="CopyValuesTo"/>.
/// </para>
/// </summary>
public record Sample(float[] Values, int[] Shape, int? Label, string Source)
{
    float[]? values = Values;
    ReadOnlyMemory<byte> data;
    SampleDType dtype;
    bool normalized;

    /// <summary>
    /// The values as float32. A float sample returns its array; a typed sample converts on every
    /// access (a new array each time): hot paths use <see cref="CopyValuesTo"/> instead.
    /// Setting it makes the sample a float32 sample.
    /// </summary>
    public float[] Values
    {
        get
        {
            if (values is not null) return values;
            var result = new float[ValueCount];
            CopyValuesTo(result);
            return result;
        }
        init { values = value; data = default; dtype = SampleDType.Float32; normalized = false; }
    }

    /// <summary>The element type the values are stored in: <see cref="SampleDType.Float32"/> for a <c>float[]</c> sample.</summary>
    public SampleDType DType { get => dtype; init => dtype = value; }

    /// <summary>
    /// Integer values stand for [0,1] (unsigned) or [-1,1] (signed): the float value is the stored
    /// value divided by the type's maximum (255 for uint8 pixels). False: the float value is the stored value.
    /// </summary>
    public bool Normalized { get => normalized; init => normalized = value; }

    /// <summary>The raw little-endian bytes of a typed sample; empty for a <c>float[]</c> sample (see <see cref="RawBytes"/>).</summary>
    public ReadOnlyMemory<byte> Data { get => data; init { data = value; values = null; } }

    /// <summary>How many values the sample has (the product of <see cref="Shape"/> for dense samples).</summary>
    public int ValueCount => values?.Length ?? data.Length / SampleDTypes.Size(dtype);

    /// <summary>The stored bytes in <see cref="DType"/>, for either kind of sample (a float sample's array viewed as bytes).</summary>
    public ReadOnlySpan<byte> RawBytes() => values is not null ? MemoryMarshal.AsBytes(values.AsSpan()) : data.Span;

    /// <summary>A sample whose values are stored as <paramref name="data"/> in <paramref name="dtype"/> (checked against the shape).</summary>
    public static Sample Typed(ReadOnlyMemory<byte> data, SampleDType dtype, int[] shape, int? label, string source, bool normalized = false)
    {
        ArgumentNullException.ThrowIfNull(shape);
        long expected = 1;
        foreach (int d in shape) expected *= d;
        if (shape.Length == 0 || expected * SampleDTypes.Size(dtype) != data.Length)
            throw new ArgumentException($"{data.Length} bytes of {SampleDTypes.Name(dtype)} do not fill shape [{string.Join(',', shape)}]");
        return new Sample(null!, shape, label, source) { Data = data, DType = dtype, Normalized = normalized };
    }

    static readonly float[] Unorm8 = Enumerable.Range(0, 256).Select(b => b / 255f).ToArray();

    /// <summary>Writes the values as float32 into <paramref name="destination"/> (exactly <see cref="ValueCount"/> long).</summary>
    public void CopyValuesTo(Span<float> destination)
    {
        if (destination.Length != ValueCount) throw new ArgumentException($"destination holds {destination.Length} values, the sample {ValueCount}");
        if (values is not null) { values.CopyTo(destination); return; }
        var bytes = data.Span;
        switch (dtype)
        {
            case SampleDType.Float32:
                MemoryMarshal.Cast<byte, float>(bytes).CopyTo(destination);
                break;
            case SampleDType.UInt8:
                if (normalized) for (int i = 0; i < bytes.Length; i++) destination[i] = Unorm8[bytes[i]];
                else for (int i = 0; i < bytes.Length; i++) destination[i] = bytes[i];
                break;
            case SampleDType.Int16:
            {
                var v = MemoryMarshal.Cast<byte, short>(bytes);
                if (normalized) for (int i = 0; i < v.Length; i++) destination[i] = Math.Max(-1f, v[i] / 32767f);
                else for (int i = 0; i < v.Length; i++) destination[i] = v[i];
                break;
            }
            case SampleDType.UInt16:
            {
                var v = MemoryMarshal.Cast<byte, ushort>(bytes);
                if (normalized) for (int i = 0; i < v.Length; i++) destination[i] = v[i] / 65535f;
                else for (int i = 0; i < v.Length; i++) destination[i] = v[i];
                break;
            }
            case SampleDType.Float16:
            {
                var v = MemoryMarshal.Cast<byte, Half>(bytes);
                for (int i = 0; i < v.Length; i++) destination[i] = (float)v[i];
                break;
            }
            default: throw new InvalidOperationException($"unknown dtype {dtype}");
        }
    }

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

/// <summary>
/// Optional for a reader: what each input file holds beyond its samples (a volume's spacing and orientation, a
/// video's frame count and rate). <c>inspect</c> lists these as <c>files</c>.
/// </summary>
public interface IDescribesFiles
{
    /// <summary>One entry per usable input file of <paramref name="spec"/>; unusable files go to <paramref name="issues"/>.</summary>
    IEnumerable<FileFacts> DescribeFiles(DataSpec spec, IDataIssues issues);
}

/// <summary>
/// Optional for a reader: files a dataset it was ingested from keeps beside its rows (the vl plugin's caption vocabulary,
/// built from the training split), so a run on the dataset reuses them instead of deriving them again. <c>maskwork ingest</c>
/// asks once the rows are written; the files are listed with their SHA-256 in <c>dataset.json</c>.
/// </summary>
public interface IDatasetCompanions
{
    /// <summary>File name (no folder) → contents, for the dataset ingested from <paramref name="spec"/>; empty when there are none.</summary>
    IReadOnlyDictionary<string, byte[]> CompanionFiles(DataSpec spec);
}

/// <summary>One input file and named facts about it (numbers, strings or arrays of them), in display order.</summary>
public sealed record FileFacts(string File, IReadOnlyList<KeyValuePair<string, object>> Facts);

/// <summary>
/// Random access to a dataset of any size (DESIGN.md section 10): the trainer, probes, <c>embed</c>
/// and <c>reconstruct</c> read through it. In memory for small raw datasets; a sharded Parquet dataset
/// reads only the row groups a batch needs. Implementations must be safe to call from a background thread.
/// </summary>
public interface ISampleSource
{
    /// <summary>How many samples the source has; global indices are 0..Count-1.</summary>
    long Count { get; }

    /// <summary>
    /// The samples at <paramref name="indices"/>, in that order, read for <paramref name="epoch"/>: each
    /// carries <see cref="Sample.Index"/> (its global index) and <see cref="Sample.Epoch"/>. An index whose
    /// data turns out unusable (a corrupt shard) is reported to the source's issue log, counted and left out,
    /// so the result may be shorter than the request; it is never silently dropped.
    /// </summary>
    IReadOnlyList<Sample> Read(IReadOnlyList<long> indices, int epoch);
}
