using Maskwork.Abstractions;

namespace Maskwork.Backend.Data;

/// <summary>
/// A source whose samples are stored in groups (a Parquet dataset's row groups): the epoch order
/// shuffles groups and then rows within a window of groups, so one window's groups are all a batch
/// needs from storage (see <see cref="EpochOrder"/>).
/// </summary>
public interface IGroupedSampleSource : ISampleSource
{
    /// <summary>Rows of each group, in global-index order (group g holds the indices after groups 0..g-1).</summary>
    IReadOnlyList<int> GroupRows { get; }

    /// <summary>How many consecutive (permuted) groups share one row shuffle.</summary>
    int ShuffleWindow { get; }
}

/// <summary>
/// The order of every epoch, a pure function of (seed, epoch): the stream of positions 0, 1, 2, …
/// runs epoch after epoch (position p belongs to epoch p / Count), and <see cref="IndexAt"/> says
/// which global index sits at a position.
/// <para>
/// Within an epoch the groups are permuted, then each window of <c>W</c> consecutive groups has its
/// rows shuffled together. Cost is O(groups + rows of one window), not O(rows): cheap on millions of
/// rows. The trade-off against a full permutation: a batch draws from at most W groups, so rows that
/// were stored next to each other (an image folder sorted by class) stay correlated within a window
/// — raise the window (and <c>data.cache_mb</c>, which must hold a window's groups to read each group
/// once per epoch) or shuffle at ingest when that matters. A source with a single group (every
/// in-memory source) gets a full permutation, the same one <see cref="BatchOrder"/> always gave.
/// </para>
/// </summary>
public sealed class EpochOrder
{
    readonly long seed;
    readonly int[] groupRows;
    readonly long[] groupStart;
    readonly int window;
    readonly object gate = new();
    int cachedEpoch = -1;
    long[] windowStart = []; // position (within the epoch) where each window begins
    int[] permutedGroups = [];
    int cachedWindow = -1;
    long[] windowIndices = [];

    public EpochOrder(long count, long seed) : this([count <= int.MaxValue ? (int)count : throw new ArgumentOutOfRangeException(nameof(count), "a single group holds at most 2^31-1 rows")], 1, seed) { }

    /// <param name="groupRows">Rows per group in global-index order.</param>
    /// <param name="shuffleWindow">Groups per row shuffle (at least 1).</param>
    /// <param name="seed">The run's seed.</param>
    public EpochOrder(IReadOnlyList<int> groupRows, int shuffleWindow, long seed)
    {
        if (shuffleWindow < 1) throw new ArgumentOutOfRangeException(nameof(shuffleWindow), "the shuffle window is at least one group");
        this.seed = seed;
        this.groupRows = [.. groupRows];
        window = shuffleWindow;
        groupStart = new long[this.groupRows.Length + 1];
        for (int g = 0; g < this.groupRows.Length; g++)
        {
            if (this.groupRows[g] < 0) throw new ArgumentException("a group cannot have a negative row count");
            groupStart[g + 1] = groupStart[g] + this.groupRows[g];
        }
        Count = groupStart[^1];
    }

    /// <summary>The order a source asks for: grouped sources get their groups and window, others one group.</summary>
    public static EpochOrder For(ISampleSource source, long seed) =>
        source is IGroupedSampleSource g ? new EpochOrder(g.GroupRows, g.ShuffleWindow, seed) : new EpochOrder(source.Count, seed);

    /// <summary>Samples per epoch.</summary>
    public long Count { get; }

    /// <summary>The epoch of stream position <paramref name="position"/>.</summary>
    public int EpochOf(long position) => checked((int)(position / Count));

    /// <summary>The global index at stream position <paramref name="position"/>.</summary>
    public long IndexAt(long position)
    {
        if (Count <= 0) throw new InvalidOperationException("the dataset is empty");
        ArgumentOutOfRangeException.ThrowIfNegative(position);
        int epoch = EpochOf(position);
        long within = position - (long)epoch * Count;
        lock (gate)
        {
            if (epoch != cachedEpoch) Plan(epoch);
            int w = Array.BinarySearch(windowStart, within);
            if (w < 0) w = ~w - 1;
            while (w + 1 < windowStart.Length && windowStart[w + 1] <= within) w++; // skip empty windows
            if (w != cachedWindow) Shuffle(epoch, w);
            return windowIndices[within - windowStart[w]];
        }
    }

    void Plan(int epoch)
    {
        permutedGroups = Enumerable.Range(0, groupRows.Length).ToArray();
        if (permutedGroups.Length > 1) new Random(Seed(epoch, 0x6a09)).Shuffle(permutedGroups);
        int windows = (permutedGroups.Length + window - 1) / window;
        windowStart = new long[windows];
        long at = 0;
        for (int w = 0; w < windows; w++)
        {
            windowStart[w] = at;
            for (int g = w * window; g < Math.Min(permutedGroups.Length, (w + 1) * window); g++) at += groupRows[permutedGroups[g]];
        }
        cachedEpoch = epoch;
        cachedWindow = -1;
    }

    void Shuffle(int epoch, int w)
    {
        var list = new List<long>();
        for (int g = w * window; g < Math.Min(permutedGroups.Length, (w + 1) * window); g++)
        {
            int group = permutedGroups[g];
            for (long i = groupStart[group]; i < groupStart[group + 1]; i++) list.Add(i);
        }
        windowIndices = [.. list];
        // Window 0 of a one-group source uses the seed BatchOrder always used, so in-memory orders are unchanged.
        new Random(Seed(epoch, 0x5eed + w)).Shuffle(windowIndices);
        cachedWindow = w;
    }

    int Seed(int epoch, long salt) => (int)(SeedMix.Of(seed, epoch, salt) & 0x7fffffff);
}

/// <summary>A sample's place in the stream: its global index and the epoch it is read for.</summary>
public readonly record struct SampleKey(long Index, int Epoch);

/// <summary>
/// Which samples each rank reads for each batch (data-parallel training, DESIGN.md section 11): the
/// epoch order is global; global batch k is the stream positions [k·N·B, (k+1)·N·B) and rank r of N
/// takes the r-th B-sized slice of it. With N = 1 batch k is positions [k·B, (k+1)·B), as always.
/// <para>
/// The epoch tail: the stream runs epoch after epoch without a break, so the global batch that
/// straddles the end of an epoch takes its remaining positions from the start of the next epoch's
/// order (samples keep their own epoch). No sample is dropped or repeated within an epoch, every
/// batch is full and every rank reads exactly B samples per batch; in a single epoch the ranks' shares
/// differ by at most B samples when Count is not a multiple of N·B (the straddling batch), and are
/// disjoint and together the epoch's order.
/// </para>
/// </summary>
public sealed class DataPartition
{
    public DataPartition(EpochOrder order, int batchSize, int rank = 0, int worldSize = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(worldSize, 1);
        if (rank < 0 || rank >= worldSize) throw new ArgumentOutOfRangeException(nameof(rank), $"rank {rank} outside 0..{worldSize - 1}");
        Order = order; BatchSize = batchSize; Rank = rank; WorldSize = worldSize;
    }

    public EpochOrder Order { get; }
    public int BatchSize { get; }
    public int Rank { get; }
    public int WorldSize { get; }

    /// <summary>The first stream position of this rank's slice of batch <paramref name="batch"/>.</summary>
    public long FirstPosition(long batch) => (batch * WorldSize + Rank) * BatchSize;

    /// <summary>This rank's keys of batch <paramref name="batch"/>, in order.</summary>
    public SampleKey[] Keys(long batch)
    {
        var keys = new SampleKey[BatchSize];
        long p = FirstPosition(batch);
        for (int i = 0; i < BatchSize; i++, p++) keys[i] = new SampleKey(Order.IndexAt(p), Order.EpochOf(p));
        return keys;
    }

    /// <summary>Reads this rank's samples of batch <paramref name="batch"/> from <paramref name="source"/> (one read per epoch the batch spans).</summary>
    public IReadOnlyList<Sample> Read(ISampleSource source, long batch)
    {
        var keys = Keys(batch);
        if (keys[0].Epoch == keys[^1].Epoch) return source.Read(keys.Select(k => k.Index).ToArray(), keys[0].Epoch);
        var result = new List<Sample>(keys.Length);
        foreach (var run in keys.GroupBy(k => k.Epoch)) result.AddRange(source.Read(run.Select(k => k.Index).ToArray(), run.Key));
        return result;
    }
}
