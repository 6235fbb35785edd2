namespace Maskwork.Backend.Data;

/// <summary>
/// Which samples form batch k: a fresh seeded permutation per epoch over the dataset, read in
/// order. A pure function of (seed, k), so the data position of a checkpoint is just its step and
/// a resumed run sees exactly the batches an uninterrupted one would.
/// </summary>
public sealed class BatchOrder(int datasetSize, int batchSize, long seed)
{
    int cachedEpoch = -1;
    int[] permutation = [];

    public int BatchSize { get; } = batchSize;

    public int[] Indices(long batch)
    {
        if (datasetSize <= 0) throw new InvalidOperationException("the dataset is empty");
        var result = new int[BatchSize];
        long position = batch * BatchSize;
        for (int i = 0; i < BatchSize; i++, position++)
        {
            int epoch = (int)(position / datasetSize);
            if (epoch != cachedEpoch) { permutation = Permutation(epoch); cachedEpoch = epoch; }
            result[i] = permutation[position % datasetSize];
        }
        return result;
    }

    int[] Permutation(int epoch)
    {
        var rng = new Random((int)(SeedMix.Of(seed, epoch, 0x5eed) & 0x7fffffff));
        var p = Enumerable.Range(0, datasetSize).ToArray();
        rng.Shuffle(p);
        return p;
    }
}
