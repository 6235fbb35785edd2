using System.Security.Cryptography;
using Maskwork.Abstractions;
using Parquet;
using Parquet.Serialization;

namespace Maskwork.Backend.Data;

/// <summary>
/// Options of <see cref="ParquetSource"/> (<c>--set data.cache_mb=</c>, <c>data.decode_threads=</c>, <c>data.shuffle_window=</c>).
/// </summary>
/// <param name="CacheMb">Decoded row groups kept in memory at most (least recently used go first). The source keeps no more than
/// a shuffle window's groups plus those being decoded, even under a larger limit: in epoch order no other group is read again.</param>
/// <param name="DecodeThreads">Row groups read and decoded at once.</param>
/// <param name="ShuffleWindow">Row groups whose rows are shuffled together (see <see cref="EpochOrder"/>); the cache should hold this many.</param>
public sealed record ParquetSourceOptions(long CacheMb = 256, int DecodeThreads = 2, int ShuffleWindow = 8)
{
    public static ParquetSourceOptions From(IReadOnlyDictionary<string, string> options)
    {
        var o = new ParquetSourceOptions();
        int Get(string key, int fallback) => options.TryGetValue(key, out var v)
            ? int.TryParse(v, System.Globalization.CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw new ArgumentException($"data.{key} must be a positive integer, got '{v}'")
            : fallback;
        return new ParquetSourceOptions(Get("cache_mb", (int)o.CacheMb), Get("decode_threads", Math.Min(4, Environment.ProcessorCount)), Get("shuffle_window", o.ShuffleWindow));
    }
}

/// <summary>
/// A Maskwork dataset folder as a sample source (<c>--data parquet:DIR</c>): only the row groups a
/// read needs are read, each at most once while it stays in a bounded cache, decoded on up to
/// <see cref="ParquetSourceOptions.DecodeThreads"/> threads; samples come back typed (uint8 stays uint8)
/// and in the requested order. A dataset many times larger than memory trains with flat memory.
/// <para>
/// Bad input: a shard that is missing, of the wrong size or whose row groups disagree with the manifest
/// is named, and its rows skipped and counted, when the source opens; a row group that fails to decode
/// or whose values do not match the manifest's SHA-256 is named, skipped and counted when first read.
/// With a fail-fast issue log either throws <see cref="InvalidDataFileException"/> naming the shard.
/// </para>
/// </summary>
public sealed class ParquetSource : IGroupedSampleSource
{
    sealed record Group(int Shard, int Ordinal, int Rows, string Sha256, long FirstIndex);

    sealed record Decoded(DatasetRow[] Rows, long Bytes);

    readonly string folder;
    readonly ManifestShard[] shards;
    readonly Group[] groups;
    readonly long[] groupStarts;
    readonly DataIssueLog issues;
    readonly ParquetSourceOptions options;
    readonly object gate = new();
    readonly Dictionary<int, LinkedListNode<(int Group, Decoded Data)>> cached = [];
    readonly LinkedList<(int Group, Decoded Data)> lru = new();
    readonly HashSet<int> bad = [];
    long cachedBytes, largestGroupBytes;

    ParquetSource(string folder, DatasetManifest manifest, ManifestShard[] shards, DataIssueLog issues, ParquetSourceOptions options)
    {
        this.folder = folder; this.shards = shards; this.issues = issues; this.options = options;
        Manifest = manifest;
        var list = new List<Group>();
        long at = 0;
        for (int s = 0; s < shards.Length; s++)
            for (int g = 0; g < shards[s].RowGroups.Count; g++)
            {
                var rg = shards[s].RowGroups[g];
                list.Add(new Group(s, g, rg.Rows, rg.ValuesSha256, at));
                at += rg.Rows;
            }
        groups = [.. list];
        groupStarts = groups.Select(g => g.FirstIndex).ToArray();
        Count = at;
        GroupRows = groups.Select(g => g.Rows).ToArray();
    }

    /// <summary>
    /// Opens <paramref name="folder"/>'s rows of <paramref name="split"/> (null: every row; a dataset
    /// without splits serves every split). Shards failing the quick check are skipped and counted.
    /// </summary>
    public static ParquetSource Open(string folder, string? split, ParquetSourceOptions options, DataIssueLog issues)
    {
        var manifest = DatasetManifest.Load(folder);
        bool hasSplits = manifest.Shards.Any(s => s.Split is not null);
        var chosen = new List<ManifestShard>();
        foreach (var shard in manifest.Shards)
        {
            if (split is not null && hasSplits && shard.Split != split) continue;
            if (ParquetDataset.QuickCheck(folder, shard) is { } problem)
            {
                issues.Skip(Path.Combine(folder, shard.File), $"{problem}; its {shard.Rows} rows are skipped", shard.Rows);
                continue;
            }
            chosen.Add(shard);
        }
        var source = new ParquetSource(folder, manifest, [.. chosen], issues, options);
        if (source.Count == 0)
            throw new InvalidDataFileException(folder, split is null ? "the dataset has no usable rows" : $"the dataset has no usable rows of split '{split}' (splits: {string.Join(", ", manifest.Splits.Keys)})");
        return source;
    }

    /// <summary>The dataset's manifest.</summary>
    public DatasetManifest Manifest { get; }

    public long Count { get; }
    public IReadOnlyList<int> GroupRows { get; }
    public int ShuffleWindow => options.ShuffleWindow;

    /// <summary>Bytes of decoded row groups held now (at most about <see cref="ParquetSourceOptions.CacheMb"/>).</summary>
    public long CachedBytes { get { lock (gate) return cachedBytes; } }

    /// <summary>Row groups read from disk so far.</summary>
    public long GroupsRead => Interlocked.Read(ref groupsRead);
    long groupsRead;

    int GroupOf(long index)
    {
        int g = Array.BinarySearch(groupStarts, index);
        if (g < 0) g = ~g - 1;
        while (g + 1 < groupStarts.Length && groupStarts[g + 1] <= index) g++; // empty groups
        return g;
    }

    public IReadOnlyList<Sample> Read(IReadOnlyList<long> indices, int epoch)
    {
        var needed = new int[indices.Count];
        for (int i = 0; i < needed.Length; i++)
        {
            if ((ulong)indices[i] >= (ulong)Count) throw new ArgumentOutOfRangeException(nameof(indices), $"index {indices[i]} outside 0..{Count - 1}");
            needed[i] = GroupOf(indices[i]);
        }
        var data = Fetch(needed.Distinct().ToArray());
        var result = new List<Sample>(indices.Count);
        for (int i = 0; i < needed.Length; i++)
        {
            if (!data.TryGetValue(needed[i], out var d)) continue; // a bad row group: named and counted when found
            var row = d.Rows[indices[i] - groups[needed[i]].FirstIndex];
            result.Add(ToSample(row) with { Split = row.Split, Index = indices[i], Epoch = epoch });
        }
        return result;
    }

    static Sample ToSample(DatasetRow row)
    {
        if (row.Parts is not null) return MultiPartRows.Decode(row);
        SampleDTypes.TryParse(row.DType, out var dtype);
        return Sample.Typed(row.Values, dtype, row.Shape, row.Label, row.Source, row.Normalized);
    }

    /// <summary>The decoded groups (from the cache, else read in parallel); bad groups are absent.</summary>
    Dictionary<int, Decoded> Fetch(int[] wanted)
    {
        var result = new Dictionary<int, Decoded>();
        var missing = new List<int>();
        lock (gate)
        {
            foreach (int g in wanted)
            {
                if (cached.TryGetValue(g, out var node)) { lru.Remove(node); lru.AddFirst(node); result[g] = node.Value.Data; }
                else if (!bad.Contains(g)) missing.Add(g);
            }
        }
        if (missing.Count == 0) return result;
        var decoded = new Decoded?[missing.Count];
        var errors = new string?[missing.Count];
        Parallel.For(0, missing.Count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.DecodeThreads) },
            i => (decoded[i], errors[i]) = Decode(groups[missing[i]]));
        for (int i = 0; i < missing.Count; i++)
        {
            var group = groups[missing[i]];
            if (decoded[i] is { } d) { result[missing[i]] = d; Insert(missing[i], d); continue; }
            bool first;
            lock (gate) first = bad.Add(missing[i]);
            if (first) issues.Skip(Path.Combine(folder, shards[group.Shard].File), $"row group {group.Ordinal}: {errors[i]}; its {group.Rows} rows are skipped", group.Rows);
        }
        return result;
    }

    void Insert(int g, Decoded d)
    {
        lock (gate)
        {
            if (cached.ContainsKey(g)) return;
            cached[g] = lru.AddFirst((g, d));
            cachedBytes += d.Bytes;
            // Epoch order reads a window of groups, then never those again this epoch: a window plus the groups in
            // flight is all a cache can serve, so a larger limit would only hold garbage (measured: 90 MB of RSS).
            largestGroupBytes = Math.Max(largestGroupBytes, d.Bytes);
            long limit = Math.Min(options.CacheMb << 20, (options.ShuffleWindow + options.DecodeThreads) * largestGroupBytes);
            while (cachedBytes > limit && lru.Count > 1)
            {
                var last = lru.Last!;
                lru.RemoveLast();
                cached.Remove(last.Value.Group);
                cachedBytes -= last.Value.Data.Bytes;
            }
        }
    }

    (Decoded?, string?) Decode(Group group)
    {
        string path = Path.Combine(folder, shards[group.Shard].File);
        DatasetRow[] rows;
        try
        {
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.RandomAccess);
            rows = [.. ParquetSerializer.DeserializeAsync<DatasetRow>(fs, new ParquetOptions(), group.Ordinal).GetAwaiter().GetResult().Data];
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return (null, $"cannot be decoded ({e.Message.Split('\n')[0]})");
        }
        Interlocked.Increment(ref groupsRead);
        if (rows.Length != group.Rows) return (null, $"{rows.Length} rows where the manifest records {group.Rows}");
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long bytes = 0;
        foreach (var r in rows)
        {
            hash.AppendData(r.Values);
            bytes += r.Values.Length + 64 + r.Source.Length * 2 + (r.Parts?.Length ?? 0) * 2;
            if (!SampleDTypes.TryParse(r.DType, out var dtype)) return (null, $"unknown dtype '{r.DType}'");
            if (r.Parts is not null)
            {
                if (MultiPartRows.Check(r) is { } problem) return (null, problem);
                continue;
            }
            long expected = MultiPartRows.Bytes(r.Shape, dtype);
            if (r.Shape.Length == 0 || expected != r.Values.Length) return (null, $"a row of {r.Values.Length} bytes with shape [{string.Join(',', r.Shape)}] of {r.DType}");
        }
        string sha = Convert.ToHexStringLower(hash.GetHashAndReset());
        if (sha != group.Sha256) return (null, "its values do not match the manifest's SHA-256 (corrupted)");
        return (new Decoded(rows, bytes), null);
    }
}
