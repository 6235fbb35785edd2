namespace Maskwork.Backend.Data;

/// <summary>
/// Which samples form batch k of an in-memory dataset: a fresh seeded permutation per epoch, read in
/// order (an <see cref="EpochOrder"/> over one group). A pure function of (seed, k), so the data
/// position of a checkpoint is just its step and a resumed run sees exactly the batches an
/// uninterrupted one would.
/// </summary>
public sealed class BatchOrder(int datasetSize, int batchSize, long seed)
{
    readonly EpochOrder order = new(datasetSize, seed);

    public int BatchSize { get; } = batchSize;

    public int[] Indices(long batch)
    {
        if (datasetSize <= 0) throw new InvalidOperationException("the dataset is empty");
        var result = new int[BatchSize];
        long position = batch * BatchSize;
        for (int i = 0; i < BatchSize; i++, position++) result[i] = (int)order.IndexAt(position);
        return result;
    }
}
