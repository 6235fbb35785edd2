using System.Collections.Concurrent;
using System.Diagnostics;
using Maskwork.Abstractions;

namespace Maskwork.Backend.Data;

/// <summary>
/// Prepares batches on a background thread, a bounded number ahead, so reading, augmentation and
/// collation overlap the training step. <see cref="WaitSeconds"/> is how long the consumer waited.
/// </summary>
public sealed class BatchPrefetcher<T> : IDisposable
{
    readonly BlockingCollection<T> queue;
    readonly CancellationTokenSource cts = new();
    readonly Task producer;
    readonly Stopwatch wait = new();
    readonly Action<T>? dispose;

    public BatchPrefetcher(Func<long, T> make, long firstBatch, int capacity = 4) : this(make, firstBatch, capacity, null) { }

    /// <param name="make">Makes batch k (on the background thread).</param>
    /// <param name="firstBatch">Index of the first batch.</param>
    /// <param name="capacity">Batches made ahead at most (bounds memory).</param>
    /// <param name="dispose">Releases a batch that was made but never taken (on <see cref="Dispose"/>).</param>
    public BatchPrefetcher(Func<long, T> make, long firstBatch, int capacity, Action<T>? dispose)
    {
        queue = new BlockingCollection<T>(capacity);
        this.dispose = dispose;
        producer = Task.Factory.StartNew(() =>
        {
            try
            {
                // Beside the training thread this thread's tensor ops run single-threaded (see NativeTuning).
                Devices.NativeTuning.SingleThreadedOps();
                for (long k = firstBatch; !cts.IsCancellationRequested; k++)
                {
                    var item = make(k);
                    try { queue.Add(item, cts.Token); }
                    catch (OperationCanceledException) { dispose?.Invoke(item); throw; }
                }
            }
            catch (OperationCanceledException) { }
            finally { queue.CompleteAdding(); }
        }, TaskCreationOptions.LongRunning);
    }

    public double WaitSeconds => wait.Elapsed.TotalSeconds;

    public T Next()
    {
        wait.Start();
        try
        {
            if (queue.TryTake(out var item, Timeout.Infinite)) return item;
            producer.GetAwaiter().GetResult(); // surfaces the producer's exception
            throw new InvalidOperationException("the batch producer stopped");
        }
        finally { wait.Stop(); }
    }

    public void Dispose()
    {
        cts.Cancel();
        try { producer.Wait(TimeSpan.FromSeconds(10)); } catch (AggregateException) { }
        if (dispose is not null && producer.IsCompleted)
            while (queue.TryTake(out var left)) dispose(left);
        cts.Dispose();
        queue.Dispose();
    }
}

/// <summary>
/// The in-memory sample source: small raw datasets, read once by their reader and kept as they are
/// (today's behaviour and speed). <see cref="ISampleSource.Read"/> hands out the stored samples with
/// their key (global index, epoch) set; the values are shared, not copied.
/// </summary>
public sealed class SampleSet(IReadOnlyList<Sample> samples) : ISampleSource
{
    public IReadOnlyList<Sample> Samples { get; } = samples;
    public int Count => Samples.Count;

    long ISampleSource.Count => Samples.Count;

    public IReadOnlyList<Sample> Read(IReadOnlyList<long> indices, int epoch)
    {
        var result = new Sample[indices.Count];
        for (int i = 0; i < result.Length; i++)
        {
            long index = indices[i];
            if ((ulong)index >= (ulong)Samples.Count) throw new ArgumentOutOfRangeException(nameof(indices), $"index {index} outside 0..{Samples.Count - 1}");
            var s = Samples[(int)index];
            result[i] = s.Index == index && s.Epoch == epoch ? s : s with { Index = index, Epoch = epoch };
        }
        return result;
    }

    public IReadOnlyList<Sample> Batch(BatchOrder order, long k) => Read(order.Indices(k).Select(i => (long)i).ToArray(), 0);
}
