using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Maskwork.Abstractions;
using Parquet;
using Parquet.Serialization;

namespace Maskwork.Backend.Data;

/// <summary>
/// One row of a Maskwork dataset shard (<c>part-NNNNN.parquet</c>): a dense sample's values as raw
/// little-endian bytes in their natural type, with dtype, shape, label, split and source. Modalities
/// whose samples are structured add their own columns and keep the same shards and manifest.
/// </summary>
public sealed class DatasetRow
{
    [JsonPropertyName("values")] public byte[] Values { get; set; } = [];
    [JsonPropertyName("dtype")] public string DType { get; set; } = "float32";
    /// <summary>Integer values stand for [0,1] / [-1,1] (see <see cref="Sample.Normalized"/>).</summary>
    [JsonPropertyName("normalized")] public bool Normalized { get; set; }
    [JsonPropertyName("shape")] public int[] Shape { get; set; } = [];
    [JsonPropertyName("label")] public int? Label { get; set; }
    [JsonPropertyName("split")] public string? Split { get; set; }
    [JsonPropertyName("source")] public string Source { get; set; } = "";
    /// <summary>
    /// Null for an ordinary sample. For a <see cref="MultiPartSample"/> (format version 2): its parts as JSON
    /// (<c>{"primary":"image","parts":[{"name":"image","shape":[3,32,32],"dtype":"float32","normalized":false},{"name":"text","text":"…"}]}</c>),
    /// the dense parts' bytes one after another in <see cref="Values"/>, <see cref="Shape"/> and <see cref="DType"/> the primary part's.
    /// </summary>
    [JsonPropertyName("parts")] public string? Parts { get; set; }
}

/// <summary>A row group of a shard as the manifest records it: rows and the SHA-256 of its rows' value bytes, concatenated.</summary>
public sealed record ManifestRowGroup(
    [property: JsonPropertyName("rows")] int Rows,
    [property: JsonPropertyName("values_sha256")] string ValuesSha256);

/// <summary>A shard as the manifest records it.</summary>
public sealed record ManifestShard(
    [property: JsonPropertyName("file")] string File,
    [property: JsonPropertyName("split")] string? Split,
    [property: JsonPropertyName("rows")] long Rows,
    [property: JsonPropertyName("bytes")] long Bytes,
    [property: JsonPropertyName("sha256")] string Sha256,
    [property: JsonPropertyName("row_groups")] IReadOnlyList<ManifestRowGroup> RowGroups);

/// <summary>How many rows share one shape and type.</summary>
public sealed record ManifestShape(
    [property: JsonPropertyName("shape")] int[] Shape,
    [property: JsonPropertyName("dtype")] string DType,
    [property: JsonPropertyName("normalized")] bool Normalized,
    [property: JsonPropertyName("rows")] long Rows);

/// <summary>A file stored beside the shards (<see cref="DatasetWriter.AddFile"/>: a reader's <see cref="IDatasetCompanions"/>), with its size and SHA-256.</summary>
public sealed record ManifestFile(
    [property: JsonPropertyName("file")] string File,
    [property: JsonPropertyName("bytes")] long Bytes,
    [property: JsonPropertyName("sha256")] string Sha256);

/// <summary>An input the reader could not use, and why.</summary>
public sealed record ManifestSkip([property: JsonPropertyName("file")] string File, [property: JsonPropertyName("reason")] string Reason);

/// <summary>
/// <c>dataset.json</c>: what a dataset folder holds (DESIGN.md section 10). Written last by
/// <see cref="DatasetWriter"/>, so a folder without it is an interrupted ingest.
/// </summary>
public sealed record DatasetManifest
{
    public const string FileName = "dataset.json";
    public const int CurrentVersion = 1;
    /// <summary>The version of a dataset with multi-part rows (<see cref="DatasetRow.Parts"/>), the newest this Maskwork reads.</summary>
    public const int MultiPartVersion = 2;

    [JsonPropertyName("format")] public string Format { get; init; } = "maskwork-dataset";
    [JsonPropertyName("format_version")] public int FormatVersion { get; init; } = CurrentVersion;
    [JsonPropertyName("reader")] public string Reader { get; init; } = "";
    [JsonPropertyName("input")] public string Input { get; init; } = "";
    [JsonPropertyName("options")] public IReadOnlyDictionary<string, string> Options { get; init; } = new Dictionary<string, string>();
    [JsonPropertyName("created_utc")] public DateTime CreatedUtc { get; init; }
    [JsonPropertyName("rows")] public long Rows { get; init; }
    [JsonPropertyName("splits")] public IReadOnlyDictionary<string, long> Splits { get; init; } = new Dictionary<string, long>();
    [JsonPropertyName("summary")] public IReadOnlyList<ManifestShape> Summary { get; init; } = [];
    [JsonPropertyName("shards")] public IReadOnlyList<ManifestShard> Shards { get; init; } = [];
    [JsonPropertyName("skipped")] public IReadOnlyList<ManifestSkip> Skipped { get; init; } = [];
    /// <summary>Files stored beside the shards (a caption vocabulary); absent in datasets written before Maskwork 1.2.</summary>
    [JsonPropertyName("files")] public IReadOnlyList<ManifestFile> Files { get; init; } = [];

    static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>Whether <paramref name="name"/> can be a companion file: a plain file name, not the manifest, a shard (part-*) or a temp file (.*).</summary>
    internal static bool IsCompanionName(string name) =>
        name == Path.GetFileName(name) && name != FileName && !name.StartsWith("part-", StringComparison.Ordinal) && !name.StartsWith('.');

    /// <summary>Reads and validates <c>dataset.json</c> of <paramref name="folder"/>; a bad manifest throws <see cref="InvalidDataFileException"/> naming it.</summary>
    public static DatasetManifest Load(string folder)
    {
        string path = Path.Combine(folder, FileName);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path} not found: not a Maskwork dataset, or its ingest was interrupted. Write one with `maskwork ingest --reader <name> --in <path> --out {folder}`");
        DatasetManifest? m;
        try { m = JsonSerializer.Deserialize<DatasetManifest>(File.ReadAllText(path), Json); }
        catch (JsonException e) { throw new InvalidDataFileException(path, $"not a valid dataset manifest: {e.Message}"); }
        if (m is null || m.Format != "maskwork-dataset") throw new InvalidDataFileException(path, "not a Maskwork dataset manifest (format \"maskwork-dataset\" expected)");
        if (m.FormatVersion is < 1 or > MultiPartVersion)
            throw new InvalidDataFileException(path, $"format version {m.FormatVersion}; this Maskwork reads version 1 to {MultiPartVersion}: upgrade Maskwork or ingest again");
        m = m with { Files = m.Files ?? [] };
        foreach (var f in m.Files)
            if (!IsCompanionName(f.File))
                throw new InvalidDataFileException(path, $"file name '{f.File}' is not a companion file name inside the dataset folder");
        foreach (var s in m.Shards)
        {
            if (s.File != Path.GetFileName(s.File) || !s.File.EndsWith(".parquet", StringComparison.Ordinal))
                throw new InvalidDataFileException(path, $"shard name '{s.File}' is not a file name inside the dataset folder");
            if (s.Rows < 0 || s.Bytes < 0 || s.RowGroups.Sum(g => (long)g.Rows) != s.Rows)
                throw new InvalidDataFileException(path, $"shard {s.File}: its row groups do not add up to its {s.Rows} rows");
        }
        if (m.Shards.Sum(s => s.Rows) != m.Rows) throw new InvalidDataFileException(path, $"the shards hold {m.Shards.Sum(s => s.Rows)} rows, the manifest says {m.Rows}");
        return m;
    }

    /// <summary>Writes atomically (temp file, fsync, rename).</summary>
    public void Save(string folder)
    {
        string path = Path.Combine(folder, FileName), tmp = path + ".tmp";
        using (var fs = File.Create(tmp))
        {
            JsonSerializer.Serialize(fs, this, Json);
            fs.Flush(true);
        }
        File.Move(tmp, path, true);
    }
}

/// <summary>Shard and row-group bounds for <see cref="DatasetWriter"/> (<c>data.shard_mb</c>, <c>data.group_rows</c>, <c>data.group_mb</c>).</summary>
public sealed record DatasetWriterOptions(long ShardMb = 256, int GroupRows = 1000, long GroupMb = 16)
{
    /// <summary>
    /// Store float samples whose values are all multiples of 1/255 (to within 2^-20: an 8-bit image a
    /// reader turned into floats) as normalized uint8, a quarter of the bytes. False keeps float32.
    /// </summary>
    public bool QuantizeUnorm8 { get; init; } = true;

    public static DatasetWriterOptions From(IReadOnlyDictionary<string, string> options)
    {
        var o = new DatasetWriterOptions();
        long Get(string key, long fallback) => options.TryGetValue(key, out var v)
            ? long.TryParse(v, System.Globalization.CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw new ArgumentException($"data.{key} must be a positive integer, got '{v}'")
            : fallback;
        return o with
        {
            ShardMb = Get("shard_mb", o.ShardMb), GroupRows = (int)Math.Min(int.MaxValue, Get("group_rows", o.GroupRows)), GroupMb = Get("group_mb", o.GroupMb),
            QuantizeUnorm8 = !options.TryGetValue("store", out var store) || store switch
            {
                "auto" => true, "as-read" => false,
                _ => throw new ArgumentException($"data.store must be auto (8-bit images as uint8) or as-read, got '{store}'"),
            },
        };
    }
}

/// <summary>
/// Writes a dataset folder from a stream of samples with bounded memory: one open shard per split,
/// each buffering at most one row group (<see cref="DatasetWriterOptions.GroupRows"/> rows or
/// <see cref="DatasetWriterOptions.GroupMb"/>); a shard is written under a temp name and renamed to
/// <c>part-NNNNN.parquet</c> once complete (fsync first), and <c>dataset.json</c> comes last.
/// </summary>
public sealed class DatasetWriter : IAsyncDisposable
{
    readonly string folder;
    readonly DatasetWriterOptions options;
    readonly Dictionary<string, OpenShard> open = [];
    readonly List<ManifestShard> shards = [];
    readonly Dictionary<(string Shape, string DType, bool Norm), (int[] Shape, long Rows)> summary = [];
    readonly Dictionary<string, long> splits = [];
    readonly Dictionary<string, ManifestFile> files = [];
    int nextShard;
    bool multiPart;

    public DatasetWriter(string folder, DatasetWriterOptions? options = null)
    {
        this.folder = folder;
        this.options = options ?? new DatasetWriterOptions();
        Prepare(folder);
    }

    /// <summary>Rows written (added) so far.</summary>
    public long Rows { get; private set; }

    /// <summary>
    /// The output folder must be new, empty or an earlier Maskwork dataset (replaced: its manifest is
    /// removed first, so a folder never pairs an old manifest with new shards).
    /// </summary>
    static void Prepare(string folder)
    {
        if (File.Exists(folder)) throw new ArgumentException($"--out {folder} is a file; give a folder for the dataset");
        Directory.CreateDirectory(folder);
        var entries = Directory.GetFileSystemEntries(folder);
        var companions = CompanionsOf(folder);
        bool ours(string e) { string n = Path.GetFileName(e); return companions.Contains(n) || n == DatasetManifest.FileName || n == DatasetManifest.FileName + ".tmp" || (n.StartsWith("part-", StringComparison.Ordinal) || n.StartsWith(".part-", StringComparison.Ordinal)) && (n.EndsWith(".parquet", StringComparison.Ordinal) || n.EndsWith(".tmp", StringComparison.Ordinal)); }
        if (entries.Any(e => !ours(e)))
            throw new ArgumentException($"--out {folder} holds files that are not a Maskwork dataset; give a new or empty folder");
        File.Delete(Path.Combine(folder, DatasetManifest.FileName));
        foreach (var e in entries) File.Delete(e);
    }

    /// <summary>The companion files an earlier dataset in <paramref name="folder"/> lists (none when there is no readable manifest).</summary>
    static HashSet<string> CompanionsOf(string folder)
    {
        try { return DatasetManifest.Load(folder).Files.Select(f => f.File).ToHashSet(); }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataFileException or IOException) { return []; }
    }

    /// <summary>
    /// Stores <paramref name="contents"/> as <paramref name="name"/> beside the shards (written to a temp file, fsynced, renamed),
    /// listed with its SHA-256 in the manifest: a reader's <see cref="IDatasetCompanions"/> files, such as a caption vocabulary.
    /// </summary>
    public void AddFile(string name, byte[] contents)
    {
        ArgumentNullException.ThrowIfNull(contents);
        if (string.IsNullOrWhiteSpace(name) || !DatasetManifest.IsCompanionName(name))
            throw new ArgumentException($"'{name}' cannot be a dataset's companion file: give a plain file name other than {DatasetManifest.FileName} and part-*");
        string path = Path.Combine(folder, name), tmp = Path.Combine(folder, $".{name}.tmp");
        using (var fs = File.Create(tmp)) { fs.Write(contents); fs.Flush(true); }
        File.Move(tmp, path, true);
        files[name] = new ManifestFile(name, contents.Length, Convert.ToHexStringLower(SHA256.HashData(contents)));
    }

    sealed class OpenShard(string split, int number, string tmp, FileStream stream)
    {
        public string Split { get; } = split;
        public int Number { get; } = number;
        public string Tmp { get; } = tmp;
        public FileStream Stream { get; } = stream;
        public List<DatasetRow> Buffer { get; } = [];
        public long BufferBytes { get; set; }
        public List<ManifestRowGroup> Groups { get; } = [];
        public long Rows { get; set; }
    }

    /// <summary>Adds one sample (its split decides its shard).</summary>
    public async Task AddAsync(Sample sample, CancellationToken ct)
    {
        var row = ToRow(sample);
        string split = row.Split ?? "";
        if (!open.TryGetValue(split, out var shard))
        {
            int number = nextShard++;
            string tmp = Path.Combine(folder, $".part-{number:D5}.parquet.tmp");
            shard = new OpenShard(split, number, tmp, new FileStream(tmp, FileMode.Create, FileAccess.ReadWrite, FileShare.None));
            open[split] = shard;
        }
        shard.Buffer.Add(row);
        shard.BufferBytes += row.Values.Length + row.Source.Length * 2 + 64;
        Rows++;
        splits[split] = splits.GetValueOrDefault(split) + 1;
        var key = (string.Join(',', row.Shape), row.DType, row.Normalized);
        summary[key] = (row.Shape, summary.TryGetValue(key, out var had) ? had.Rows + 1 : 1);
        if (shard.Buffer.Count >= options.GroupRows || shard.BufferBytes >= options.GroupMb << 20)
        {
            await FlushGroupAsync(shard, ct);
            if (shard.Stream.Length >= options.ShardMb << 20) await CloseAsync(shard, ct);
        }
    }

    DatasetRow ToRow(Sample s)
    {
        var row = new DatasetRow { Shape = s.Shape, Label = s.Label, Split = s.Split, Source = s.Source };
        if (s is MultiPartSample multi)
        {
            MultiPartRows.Encode(multi, row, part => { var r = ToRow(part); return (r.Values, r.DType, r.Normalized); });
            multiPart = true;
            return row;
        }
        if (s.DType == SampleDType.Float32 && options.QuantizeUnorm8 && Unorm8(s.RawBytes()) is { } bytes)
        {
            row.Values = bytes; row.DType = "uint8"; row.Normalized = true;
        }
        else
        {
            row.Values = s.RawBytes().ToArray(); row.DType = SampleDTypes.Name(s.DType); row.Normalized = s.Normalized;
        }
        return row;
    }

    /// <summary>The values as normalized uint8 when every one is (to within 2^-20) a multiple of 1/255 in [0,1], else null.</summary>
    static byte[]? Unorm8(ReadOnlySpan<byte> raw)
    {
        var values = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(raw);
        var result = new byte[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            float v = values[i];
            float q = MathF.Round(v * 255f);
            if (!(q >= 0 && q <= 255) || MathF.Abs(q / 255f - v) > 1e-6f) return null;
            result[i] = (byte)q;
        }
        return result;
    }

    async Task FlushGroupAsync(OpenShard shard, CancellationToken ct)
    {
        if (shard.Buffer.Count == 0) return;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var r in shard.Buffer) hash.AppendData(r.Values);
        await ParquetSerializer.SerializeAsync(shard.Buffer, shard.Stream,
            new ParquetOptions { Append = shard.Groups.Count > 0, CompressionMethod = CompressionMethod.Snappy }, cancellationToken: ct);
        shard.Groups.Add(new ManifestRowGroup(shard.Buffer.Count, Convert.ToHexStringLower(hash.GetHashAndReset())));
        shard.Rows += shard.Buffer.Count;
        shard.Buffer.Clear();
        shard.BufferBytes = 0;
    }

    async Task CloseAsync(OpenShard shard, CancellationToken ct)
    {
        await FlushGroupAsync(shard, ct); // a failure from here to the rename leaves the shard open: DisposeAsync removes its temp file
        await shard.Stream.FlushAsync(ct);
        shard.Stream.Flush(true);
        shard.Stream.Position = 0;
        string sha = Convert.ToHexStringLower(await SHA256.HashDataAsync(shard.Stream, ct));
        long bytes = shard.Stream.Length;
        await shard.Stream.DisposeAsync();
        string name = $"part-{shard.Number:D5}.parquet";
        File.Move(shard.Tmp, Path.Combine(folder, name));
        open.Remove(shard.Split);
        shards.Add(new ManifestShard(name, shard.Split.Length == 0 ? null : shard.Split, shard.Rows, bytes, sha, [.. shard.Groups]));
    }

    /// <summary>Closes every shard and writes <c>dataset.json</c> last.</summary>
    public async Task<DatasetManifest> CompleteAsync(string reader, string input, IReadOnlyDictionary<string, string> readerOptions,
        IEnumerable<(string File, string Reason)> skipped, CancellationToken ct)
    {
        foreach (var shard in open.Values.OrderBy(s => s.Number).ToList()) await CloseAsync(shard, ct);
        var manifest = new DatasetManifest
        {
            FormatVersion = multiPart ? DatasetManifest.MultiPartVersion : DatasetManifest.CurrentVersion,
            Files = files.Values.OrderBy(f => f.File, StringComparer.Ordinal).ToList(),
            Reader = reader, Input = input, Options = readerOptions, CreatedUtc = DateTime.UtcNow, Rows = Rows,
            Splits = splits.ToDictionary(kv => kv.Key.Length == 0 ? "none" : kv.Key, kv => kv.Value),
            Summary = summary.Select(kv => new ManifestShape(kv.Value.Shape, kv.Key.DType, kv.Key.Norm, kv.Value.Rows)).OrderByDescending(s => s.Rows).ToList(),
            Shards = shards.OrderBy(s => s.File, StringComparer.Ordinal).ToList(),
            Skipped = skipped.Select(s => new ManifestSkip(s.File, s.Reason)).ToList(),
        };
        manifest.Save(folder);
        return manifest;
    }

    /// <summary>An incomplete write (cancelled, failed) leaves only temp files and no manifest: they are removed.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var shard in open.Values)
        {
            await shard.Stream.DisposeAsync();
            File.Delete(shard.Tmp);
        }
        open.Clear();
    }
}

/// <summary>What <see cref="ParquetDataset.Verify"/> found about one shard.</summary>
public sealed record ShardCheck(string File, bool Ok, string? Problem);

/// <summary>What <see cref="ParquetDataset.Verify"/> found: the manifest (when readable) and each shard.</summary>
public sealed record DatasetCheck(DatasetManifest? Manifest, IReadOnlyList<ShardCheck> Shards, IReadOnlyList<string> Problems)
{
    public bool Ok => Manifest is not null && Problems.Count == 0 && Shards.All(s => s.Ok);
}

/// <summary>Dataset folders: recognising one, and checking it end to end.</summary>
public static class ParquetDataset
{
    /// <summary>Whether <paramref name="folder"/> is a Maskwork dataset folder (has <c>dataset.json</c>).</summary>
    public static bool IsDataset(string folder) => Directory.Exists(folder) && File.Exists(Path.Combine(folder, DatasetManifest.FileName));

    /// <summary>
    /// A dataset folder's rows in index order, a row group at a time: for readers that stream a whole dataset
    /// (inspect, ingest, a plugin's Parquet reader). Bad shards are reported to <paramref name="issues"/> and skipped.
    /// </summary>
    public static async IAsyncEnumerable<Sample> ReadAllAsync(DataSpec spec, IDataIssues issues, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        var log = issues as DataIssueLog ?? new DataIssueLog();
        var source = ParquetSource.Open(spec.Path, spec.Split, ParquetSourceOptions.From(spec.Options), log);
        long at = 0;
        foreach (int rows in source.GroupRows)
        {
            ct.ThrowIfCancellationRequested();
            var indices = new long[rows];
            for (int i = 0; i < rows; i++) indices[i] = at + i;
            at += rows;
            foreach (var s in await Task.Run(() => source.Read(indices, 0), ct)) yield return s;
        }
        if (!ReferenceEquals(log, issues)) foreach (var (file, reason) in log.Items) issues.Skip(file, reason);
    }

    /// <summary>Checks a shard's file against its manifest entry without hashing it: present, of the recorded size, with the recorded row groups.</summary>
    public static string? QuickCheck(string folder, ManifestShard shard)
    {
        string path = Path.Combine(folder, shard.File);
        if (!File.Exists(path)) return "missing";
        long length = new FileInfo(path).Length;
        if (length != shard.Bytes) return $"{length} bytes where the manifest records {shard.Bytes} (truncated or rewritten)";
        try
        {
            using var fs = File.OpenRead(path);
            var reader = ParquetReader.CreateAsync(fs).GetAwaiter().GetResult();
            using var _ = reader.AsDisposable();
            if (reader.RowGroupCount != shard.RowGroups.Count) return $"{reader.RowGroupCount} row groups where the manifest records {shard.RowGroups.Count}";
            for (int g = 0; g < reader.RowGroupCount; g++)
            {
                using var rg = reader.OpenRowGroupReader(g);
                if (rg.RowCount != shard.RowGroups[g].Rows) return $"row group {g} has {rg.RowCount} rows where the manifest records {shard.RowGroups[g].Rows}";
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return $"not a readable Parquet file ({e.Message.Split('\n')[0]})";
        }
        return null;
    }

    /// <summary>Checks the manifest and every shard: size, SHA-256 of the whole file, row groups; and files the manifest does not list.</summary>
    public static DatasetCheck Verify(string folder)
    {
        var problems = new List<string>();
        if (!Directory.Exists(folder)) return new DatasetCheck(null, [], [$"{folder} does not exist"]);
        foreach (var tmp in Directory.GetFiles(folder, ".part-*.tmp")) problems.Add($"{Path.GetFileName(tmp)}: an incomplete shard left by an interrupted ingest");
        DatasetManifest manifest;
        try { manifest = DatasetManifest.Load(folder); }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataFileException)
        {
            problems.Add(e.Message);
            return new DatasetCheck(null, Directory.GetFiles(folder, "part-*.parquet").Order(StringComparer.Ordinal)
                .Select(f => new ShardCheck(Path.GetFileName(f), false, "no valid manifest vouches for it")).ToList(), problems);
        }
        var checks = new List<ShardCheck>();
        foreach (var shard in manifest.Shards)
        {
            string? problem = QuickCheck(folder, shard);
            if (problem is null)
            {
                using var fs = File.OpenRead(Path.Combine(folder, shard.File));
                string sha = Convert.ToHexStringLower(SHA256.HashData(fs));
                if (sha != shard.Sha256) problem = $"SHA-256 {sha} does not match the manifest's {shard.Sha256}";
            }
            checks.Add(new ShardCheck(shard.File, problem is null, problem));
        }
        foreach (var f in manifest.Files)
        {
            string path = Path.Combine(folder, f.File);
            if (!File.Exists(path)) { problems.Add($"{f.File}: listed in the manifest but missing"); continue; }
            var bytes = File.ReadAllBytes(path);
            if (bytes.Length != f.Bytes || Convert.ToHexStringLower(SHA256.HashData(bytes)) != f.Sha256) problems.Add($"{f.File}: does not match the manifest's size and SHA-256 (changed or corrupted)");
        }
        var listed = manifest.Shards.Select(s => s.File).ToHashSet();
        foreach (var f in Directory.GetFiles(folder, "part-*.parquet").Select(Path.GetFileName).Order(StringComparer.Ordinal))
            if (!listed.Contains(f!)) problems.Add($"{f}: not listed in the manifest");
        return new DatasetCheck(manifest, checks, problems);
    }
}

static class ParquetReaderExtensions
{
    sealed class Disposer(IAsyncDisposable inner) : IDisposable
    {
        public void Dispose() => inner.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    /// <summary>Parquet.Net 6 readers are only async-disposable; this disposes one synchronously.</summary>
    public static IDisposable AsDisposable(this IAsyncDisposable d) => new Disposer(d);
}
