using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Training;
using static TorchSharp.torch;

namespace Maskwork.Backend.Tests;

/// <summary>Batches split into slices that train on parallel worker threads (TrainOptions.Workers).</summary>
public class SliceWorkerTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("mw-slices-").FullName;

    public void Dispose() => Directory.Delete(dir, true);

    /// <summary>Masks the odd tokens of every sample: the same plan however a batch is sliced. Records who asked.</summary>
    sealed class OddTokensMasker : IMasker
    {
        public System.Collections.Concurrent.ConcurrentBag<(long Batch, int Thread)> Calls { get; } = [];

        public MaskPlan Plan(TokenBatch tokens, MaskContext context)
        {
            long b = tokens.BatchSize, n = tokens.TokenCount;
            Calls.Add((b, Environment.CurrentManagedThreadId));
            var all = arange(n, dtype: ScalarType.Int64).unsqueeze(0).expand(b, n);
            return new MaskPlan(all[.., TensorIndex.Slice(0, null, 2)].contiguous(), all[.., TensorIndex.Slice(1, null, 2)].contiguous());
        }
    }

    static Trainer NewTrainer(int steps, List<Sample> data, int workers, IMasker? masker = null, bool independent = true,
        int batch = 8, int accumulate = 1, long seed = 5)
    {
        manual_seed(seed);
        var parts = Synthetic.Parts() with { IndependentSamples = independent };
        if (masker is not null) parts = parts with { Masker = masker };
        var options = Synthetic.Train(steps) with { Workers = workers, Batch = batch, Accumulate = accumulate };
        return new Trainer(new TrainerSetup("test/seq", parts, options, seed, CPU, ScalarType.Float32), new SampleSet(data));
    }

    [Fact]
    public void Slices_weighted_by_their_samples_train_like_the_whole_batch()
    {
        // 7 samples per batch: slices of 3 and 4, so a wrong weighting (½ each) would show.
        var data = Synthetic.Samples(42);
        var whole = new List<double>();
        var sliced = new List<double>();
        using var one = NewTrainer(12, data, workers: 1, masker: new OddTokensMasker(), batch: 7);
        var slicedMasker = new OddTokensMasker();
        using var two = NewTrainer(12, data, workers: 2, masker: slicedMasker, batch: 7);
        Assert.Equal(2, two.Workers);
        one.Run(12, CancellationToken.None, r => whole.Add(r.Loss));
        two.Run(12, CancellationToken.None, r => sliced.Add(r.Loss));
        // Really split: every step planned a slice of 3 and one of 4, on two threads other than this one.
        Assert.Equal(12, slicedMasker.Calls.Count(c => c.Batch == 3));
        Assert.Equal(12, slicedMasker.Calls.Count(c => c.Batch == 4));
        Assert.Equal(2, slicedMasker.Calls.Select(c => c.Thread).Distinct().Count());
        Assert.DoesNotContain(Environment.CurrentManagedThreadId, slicedMasker.Calls.Select(c => c.Thread));
        for (int i = 0; i < whole.Count; i++) Assert.Equal(whole[i], sliced[i], 5);
        // Summation order differs, so not bit-equal: measured 5.6e-5 apart after 12 steps; weighting the
        // slices ½ each instead of 3/7 and 4/7 puts them 7.2e-4 apart.
        float apart = (one.Optimizer.Parameters - two.Optimizer.Parameters).abs().max().item<float>();
        Assert.True(apart < 2e-4, $"parameters {apart} apart");
        Assert.True(whole[^1] < whole[0]);
    }

    [Fact]
    public void Two_workers_repeat_bit_for_bit_and_resume_exactly()
    {
        var data = Synthetic.Samples(40);
        var straight = new List<double>();
        using var a = NewTrainer(16, data, workers: 2);
        a.Run(16, CancellationToken.None, r => straight.Add(r.Loss));

        var again = new List<double>();
        using var b = NewTrainer(16, data, workers: 2);
        b.Run(16, CancellationToken.None, r => again.Add(r.Loss));
        Assert.Equal(straight, again);
        Assert.True(TensorAssert.Same(a.Optimizer.Parameters, b.Optimizer.Parameters));

        string path = Path.Combine(dir, "half.ckpt");
        using (var first = NewTrainer(16, data, workers: 2))
        {
            first.Run(8, CancellationToken.None);
            first.Save(path, 0);
        }
        Assert.Equal(2, Checkpoint.Load(path).State.Workers);
        var resumed = new List<double>();
        using var second = NewTrainer(16, data, workers: 2);
        second.Load(path);
        second.Run(16, CancellationToken.None, r => resumed.Add(r.Loss));
        Assert.Equal(straight[8..], resumed);
        Assert.True(TensorAssert.Same(a.Optimizer.Parameters, second.Optimizer.Parameters));
    }

    [Fact]
    public void A_resume_keeps_the_slicing_the_run_started_with()
    {
        var data = Synthetic.Samples(16);
        string path = Path.Combine(dir, "one.ckpt");
        using (var first = NewTrainer(4, data, workers: 1))
        {
            first.Run(2, CancellationToken.None);
            first.Save(path, 0);
        }
        using var automatic = NewTrainer(4, data, workers: 0);
        automatic.Load(path);
        Assert.Equal(1, automatic.Workers);
    }

    [Fact]
    public void Workers_are_validated_and_automatic_follows_the_recipe()
    {
        var data = Synthetic.Samples(16);
        Assert.Contains("train.workers is 3", Assert.Throws<ArgumentException>(() => NewTrainer(2, data, workers: 3)).Message);
        Assert.Contains("couples samples", Assert.Throws<ArgumentException>(() => NewTrainer(2, data, workers: 2, independent: false)).Message);
        Assert.Contains("accumulate 2", Assert.Throws<ArgumentException>(() => NewTrainer(2, data, workers: 2, accumulate: 2)).Message);

        using (var independent = NewTrainer(2, data, workers: 0)) Assert.Equal(get_num_threads() >= 2 ? 2 : 1, independent.Workers);
        using (var coupled = NewTrainer(2, data, workers: 0, independent: false)) Assert.Equal(1, coupled.Workers);
        using (var accumulating = NewTrainer(2, data, workers: 0, accumulate: 2)) Assert.Equal(1, accumulating.Workers);
    }

    [Fact]
    public void Slice_workers_run_on_their_own_threads_with_their_share_of_the_cores_and_surface_failures()
    {
        using var workers = new SliceWorkers(2, threadsEach: 1);
        var threadIds = new int[2];
        var threads = new int[2];
        workers.Run(2, i =>
        {
            threadIds[i] = Environment.CurrentManagedThreadId;
            threads[i] = get_num_threads();
        });
        Assert.NotEqual(threadIds[0], threadIds[1]);
        Assert.DoesNotContain(Environment.CurrentManagedThreadId, threadIds);
        Assert.Equal([1, 1], threads);

        var e = Assert.Throws<InvalidOperationException>(() => workers.Run(2, i => { if (i == 1) throw new InvalidOperationException("slice 1 failed"); }));
        Assert.Equal("slice 1 failed", e.Message);
        int ran = 0;
        workers.Run(1, _ => Interlocked.Increment(ref ran));
        Assert.Equal(1, ran);
    }

    [Fact]
    public void Batches_split_into_contiguous_slices_of_nearly_equal_size()
    {
        var samples = Synthetic.Samples(7);
        var tokenizer = new SequenceTokenizer(Synthetic.Tokens, Synthetic.Dim);
        var slices = PreparedBatch.MakeSlices(samples, 0, null, tokenizer, 2);
        Assert.Equal([3, 4], slices.Select(s => s.Samples.Count));
        Assert.Equal(samples, slices.SelectMany(s => s.Samples));
        foreach (var s in slices) s.Dispose();

        var single = PreparedBatch.MakeSlices(samples.Take(1).ToList(), 0, null, tokenizer, 2);
        Assert.Single(single);
        single[0].Dispose();
    }
}
