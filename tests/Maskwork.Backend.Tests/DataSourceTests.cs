using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Training;
using static TorchSharp.torch;

namespace Maskwork.Backend.Tests;

/// <summary>Typed samples, epoch order, rank partitions, the dataset format and its source (DESIGN.md section 10).</summary>
public sealed class DataSourceTests : IDisposable
{
    readonly string dir = Path.Combine(Path.GetTempPath(), "maskwork-data-" + Guid.NewGuid().ToString("N"));

    public DataSourceTests() => Directory.CreateDirectory(dir);
    public void Dispose() => Directory.Delete(dir, true);

    [Fact]
    public void Typed_samples_convert_to_float32_in_every_dtype()
    {
        byte[] u8 = [0, 1, 128, 255];
        Assert.Equal([0f, 1f, 128f, 255f], Sample.Typed(u8, SampleDType.UInt8, [4], null, "a").Values);
        Assert.Equal([0f, 1 / 255f, 128 / 255f, 1f], Sample.Typed(u8, SampleDType.UInt8, [2, 2], null, "a", normalized: true).Values);
        short[] i16 = [-32768, -1, 0, 32767];
        var s16 = Sample.Typed(System.Runtime.InteropServices.MemoryMarshal.AsBytes(i16.AsSpan()).ToArray(), SampleDType.Int16, [4], null, "b");
        Assert.Equal([-32768f, -1f, 0f, 32767f], s16.Values);
        Assert.Equal([-1f, -1 / 32767f, 0f, 1f], (s16 with { Normalized = true }).Values);
        ushort[] u16 = [0, 65535];
        Assert.Equal([0f, 65535f], Sample.Typed(System.Runtime.InteropServices.MemoryMarshal.AsBytes(u16.AsSpan()).ToArray(), SampleDType.UInt16, [2], null, "c").Values);
        Half[] f16 = [(Half)0.5f, (Half)(-2f)];
        Assert.Equal([0.5f, -2f], Sample.Typed(System.Runtime.InteropServices.MemoryMarshal.AsBytes(f16.AsSpan()).ToArray(), SampleDType.Float16, [2], null, "d").Values);
        var typed = Sample.Typed(u8, SampleDType.UInt8, [4], 3, "e");
        Assert.Equal(4, typed.ValueCount);
        Assert.Equal(u8, typed.RawBytes().ToArray());
        var span = new float[4];
        typed.CopyValuesTo(span);
        Assert.Equal(typed.Values, span);
        Assert.Throws<ArgumentException>(() => Sample.Typed(u8, SampleDType.UInt16, [4], null, "f")); // 4 bytes are 2 uint16, not 4

        // A float[] sample is what it always was; setting Values makes a typed sample a float one.
        var plain = new Sample([1f, 2f], [2], null, "g");
        Assert.Same(plain.Values, plain.Values);
        Assert.Equal(SampleDType.Float32, plain.DType);
        var replaced = typed with { Values = [9f, 8f, 7f, 6f] };
        Assert.Equal(SampleDType.Float32, replaced.DType);
        Assert.Equal([9f, 8f, 7f, 6f], replaced.Values);
    }

    [Fact]
    public void Epoch_order_is_a_seeded_permutation_per_epoch_and_one_group_keeps_the_old_order()
    {
        // One group: the full permutation BatchOrder always gave (pinned in TrainingTests).
        var single = new EpochOrder(10, 7);
        Assert.Equal([4L, 8, 9, 2], Enumerable.Range(0, 4).Select(p => single.IndexAt(p)));

        int[] groups = [5, 7, 0, 3, 9, 6, 4];
        var order = new EpochOrder(groups, 2, 11);
        long n = groups.Sum();
        long[] Epoch(EpochOrder o, int e) => Enumerable.Range(0, (int)n).Select(p => o.IndexAt(e * n + p)).ToArray();
        var e0 = Epoch(order, 0);
        Assert.Equal(Enumerable.Range(0, (int)n).Select(i => (long)i), e0.Order());
        Assert.Equal(e0, Epoch(new EpochOrder(groups, 2, 11), 0)); // a pure function of (seed, epoch)
        Assert.NotEqual(e0, Epoch(order, 1));
        Assert.NotEqual(e0, Epoch(new EpochOrder(groups, 2, 12), 0));
        Assert.Equal(e0, Epoch(order, 0)); // going back to epoch 0 replays it
        Assert.Equal(1, order.EpochOf(n));

        // Window 1 of 1 group: rows of a group stay together, shuffled within it.
        var perGroup = new EpochOrder(groups, 1, 3);
        var seq = Epoch(perGroup, 0);
        var starts = new long[groups.Length + 1];
        for (int g = 0; g < groups.Length; g++) starts[g + 1] = starts[g] + groups[g];
        int GroupOf(long i) => Array.FindLastIndex(starts, s => s <= i);
        int changes = seq.Zip(seq.Skip(1)).Count(p => GroupOf(p.First) != GroupOf(p.Second));
        Assert.Equal(groups.Count(g => g > 0) - 1, changes);
    }

    [Theory]
    [InlineData(2, 48)]
    [InlineData(3, 48)]
    [InlineData(2, 53)]
    [InlineData(3, 53)]
    public void Rank_partitions_are_disjoint_equal_and_together_the_single_process_order(int world, int count)
    {
        const int batch = 4;
        var order = new EpochOrder([10, 13, count - 23], 2, 5);
        var single = new DataPartition(order, batch * world);
        var ranks = Enumerable.Range(0, world).Select(r => new DataPartition(order, batch, r, world)).ToArray();
        int globalBatches = (int)Math.Ceiling(3.0 * count / (batch * world)); // three epochs and a bit
        var perRank = ranks.Select(_ => new List<SampleKey>()).ToArray();
        for (int k = 0; k < globalBatches; k++)
        {
            var together = ranks.SelectMany(r => r.Keys(k)).ToArray();
            Assert.Equal(single.Keys(k), together); // rank r's slice is the r-th B-slice of global batch k
            for (int r = 0; r < world; r++) { Assert.Equal(batch, ranks[r].Keys(k).Length); perRank[r].AddRange(ranks[r].Keys(k)); }
        }
        for (int epoch = 0; epoch < 2; epoch++)
        {
            var shares = perRank.Select(l => l.Where(key => key.Epoch == epoch).Select(key => key.Index).ToList()).ToArray();
            for (int a = 0; a < world; a++)
                for (int b = a + 1; b < world; b++) Assert.Empty(shares[a].Intersect(shares[b]));
            Assert.Equal(Enumerable.Range(0, count).Select(i => (long)i), shares.SelectMany(s => s).Order());
            if (count % (batch * world) == 0) Assert.All(shares, s => Assert.Equal(count / world, s.Count));
            else Assert.True(shares.Max(s => s.Count) - shares.Min(s => s.Count) <= batch);
        }
        // N = 1 is the old single-process order.
        Assert.Equal(new BatchOrder(count, batch, 5).Indices(3).Select(i => (long)i),
            new DataPartition(new EpochOrder(count, 5), batch).Keys(3).Select(k => k.Index));
    }

    static List<Sample> Images(int count, int seed = 1)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(i =>
        {
            var v = new float[2 * 8 * 8];
            for (int j = 0; j < v.Length; j++) v[j] = rng.Next(256) / 255f;
            return new Sample(v, [2, 8, 8], i % 3, $"img#{i}") { Split = i % 4 == 0 ? "test" : "train" };
        }).ToList();
    }

    [Fact]
    public void A_per_sample_draw_is_the_same_whatever_the_batch_size_and_slicing()
    {
        var set = new SampleSet(Images(12));
        var augment = new ImageAugment(9);
        var all = augment.Apply(set.Read(Enumerable.Range(0, 12).Select(i => (long)i).ToArray(), 2), 0);
        var halves = augment.Apply(set.Read([6, 7, 8, 9, 10, 11], 2), 5).Concat(augment.Apply(set.Read([0, 1, 2, 3, 4, 5], 2), 1)).OrderBy(s => s.Index).ToList();
        var shuffled = augment.Apply(set.Read([11, 3, 7], 2), 42);
        for (int i = 0; i < 12; i++) Assert.Equal(all[i].Values, halves[i].Values);
        foreach (var s in shuffled) Assert.Equal(all[(int)s.Index].Values, s.Values);
        Assert.NotEqual(all[0].Values, augment.Apply(set.Read([0], 3), 0)[0].Values); // another epoch, another draw
        Assert.NotEqual(all[0].Values, set.Samples[0].Values);

        // Through the pipeline: one slice or two, the augmented samples are the same.
        var tokenizer = new SequenceTokenizer(2, 64);
        var batch = set.Read([0, 1, 2, 3, 4], 0);
        var one = PreparedBatch.MakeSlices(batch, 7, augment, tokenizer, 1);
        var two = PreparedBatch.MakeSlices(batch, 8, augment, tokenizer, 2);
        Assert.Equal(one[0].Samples.Select(s => s.Values), two.SelectMany(b => b.Samples).Select(s => s.Values));
    }

    async Task<DatasetManifest> Write(string folder, IEnumerable<Sample> samples, DatasetWriterOptions options, CancellationToken ct = default)
    {
        await using var writer = new DatasetWriter(folder, options);
        foreach (var s in samples) await writer.AddAsync(s, ct);
        return await writer.CompleteAsync("test", "memory", new Dictionary<string, string> { ["size"] = "8" }, [("bad.png", "truncated")], ct);
    }

    [Fact]
    public async Task A_dataset_round_trips_typed_with_its_manifest_and_verifies()
    {
        var samples = Images(50);
        samples.Add(new Sample([0.25f, 1.5f, -3f, 0.1f], [4], null, "float#0") { Split = "train" }); // not 8-bit: stays float32
        string folder = Path.Combine(dir, "ds");
        var manifest = await Write(folder, samples, new DatasetWriterOptions(GroupRows: 8));
        Assert.Equal(51, manifest.Rows);
        Assert.Equal(13, manifest.Splits["test"]);
        Assert.Equal(38, manifest.Splits["train"]);
        Assert.Equal(2, manifest.Shards.Count); // one per split
        Assert.Contains(manifest.Summary, s => s.DType == "uint8" && s.Normalized && s.Rows == 50);
        Assert.Contains(manifest.Summary, s => s.DType == "float32" && s.Rows == 1);
        Assert.Single(manifest.Skipped);
        Assert.All(manifest.Shards, s => Assert.All(s.RowGroups, g => Assert.InRange(g.Rows, 1, 8)));
        Assert.True(ParquetDataset.Verify(folder).Ok);
        Assert.Equal(manifest.Rows, DatasetManifest.Load(folder).Rows);

        var issues = new DataIssueLog();
        var all = ParquetSource.Open(folder, null, new ParquetSourceOptions(CacheMb: 1, ShuffleWindow: 2), issues);
        Assert.Equal(51, all.Count);
        var read = all.Read(Enumerable.Range(0, 51).Select(i => (long)i).Reverse().ToArray(), 4);
        Assert.Equal(Enumerable.Range(0, 51).Select(i => (long)i).Reverse(), read.Select(s => s.Index));
        Assert.All(read, s => Assert.Equal(4, s.Epoch));
        var bySource = samples.ToDictionary(s => s.Source);
        foreach (var s in read)
        {
            var original = bySource[s.Source];
            Assert.Equal(original.Values, s.Values); // bit-exact: 8-bit floats come back from uint8 exactly
            Assert.Equal(original.Label, s.Label);
            Assert.Equal(original.Split, s.Split);
            Assert.Equal(original.Shape, s.Shape);
            Assert.Equal(s.Source.StartsWith("img", StringComparison.Ordinal) ? SampleDType.UInt8 : SampleDType.Float32, s.DType);
        }
        var train = ParquetSource.Open(folder, "train", new ParquetSourceOptions(), issues);
        Assert.Equal(38, train.Count);
        Assert.All(train.Read([0, 37], 0), s => Assert.Equal("train", s.Split));
        Assert.Equal(0, issues.Count);
    }

    [Fact]
    public async Task The_cache_holds_a_shuffle_window_plus_the_groups_in_flight_however_large_its_limit()
    {
        string folder = Path.Combine(dir, "window");
        var manifest = await Write(folder, Images(80), new DatasetWriterOptions(GroupRows: 4));
        var source = ParquetSource.Open(folder, "train", new ParquetSourceOptions(CacheMb: 1024, DecodeThreads: 1, ShuffleWindow: 2), new DataIssueLog());
        long groupBytes = 0, most = 0;
        var partition = new DataPartition(EpochOrder.For(source, 3), 4);
        for (int k = 0; k < source.Count / 4; k++)
        {
            var batch = partition.Read(source, k);
            groupBytes = Math.Max(groupBytes, batch.Max(s => (long)s.ValueCount)); // uint8: a byte a value
            most = Math.Max(most, source.CachedBytes);
        }
        Assert.True(most > 0);
        Assert.InRange(most, 1, 3 * 4 * groupBytes + 3 * 4 * 256); // 2 window groups + 1 in flight, 4 rows each (+ row overheads)
        Assert.Equal(manifest.Splits["train"] / 4, source.GroupsRead); // every group read once: the window fits
    }

    [Fact]
    public async Task Exact_resume_on_a_parquet_dataset()
    {
        string folder = Path.Combine(dir, "seq");
        await Write(folder, Synthetic.Samples(60), new DatasetWriterOptions(GroupRows: 7));
        ParquetSource Source() => ParquetSource.Open(folder, null, new ParquetSourceOptions(CacheMb: 1, ShuffleWindow: 3), new DataIssueLog());
        Trainer New()
        {
            manual_seed(5);
            return new Trainer(new TrainerSetup("test/seq", Synthetic.Parts(), Synthetic.Train(20), 5, CPU, ScalarType.Float32), Source());
        }
        using var straight = New();
        straight.Run(20, CancellationToken.None);
        string path = Path.Combine(dir, "half.ckpt");
        using (var first = New()) { first.Run(10, CancellationToken.None); first.Save(path, 0); }
        using var second = New();
        second.Load(path);
        second.Run(20, CancellationToken.None);
        Assert.True(TensorAssert.Same(straight.Optimizer.Parameters, second.Optimizer.Parameters), "resumed parameters differ from the uninterrupted run's");
    }

    [Fact]
    public async Task A_corrupted_shard_is_named_skipped_and_counted_or_fails_fast()
    {
        string folder = Path.Combine(dir, "bad");
        var manifest = await Write(folder, Images(40), new DatasetWriterOptions(GroupRows: 10) { QuantizeUnorm8 = false });
        var test = manifest.Shards.Single(s => s.Split == "test");
        var train = manifest.Shards.Single(s => s.Split == "train");
        string trainPath = Path.Combine(folder, train.File), testPath = Path.Combine(folder, test.File);

        // Same size, flipped bytes inside the first row group's values: only the checksums can tell.
        var bytes = File.ReadAllBytes(trainPath);
        for (int i = 0; i < 64; i++) bytes[200 + i] ^= 0x5a;
        File.WriteAllBytes(trainPath, bytes);
        var check = ParquetDataset.Verify(folder);
        Assert.False(check.Ok);
        Assert.Contains("SHA-256", check.Shards.Single(s => s.File == train.File).Problem);
        Assert.True(check.Shards.Single(s => s.File == test.File).Ok);

        var issues = new DataIssueLog();
        var source = ParquetSource.Open(folder, "train", new ParquetSourceOptions(), issues);
        var read = source.Read(Enumerable.Range(0, (int)source.Count).Select(i => (long)i).ToArray(), 0);
        Assert.Equal(source.Count - 10, read.Count); // the first row group (10 rows) is skipped
        Assert.Equal(10, issues.SkippedSamples);
        Assert.Contains(trainPath, issues.Items.Single().File);
        source.Read([0, 1], 1);
        Assert.Equal(10, issues.SkippedSamples); // counted once

        var failFast = ParquetSource.Open(folder, "train", new ParquetSourceOptions(), new DataIssueLog(failFast: true));
        Assert.Equal(trainPath, Assert.Throws<InvalidDataFileException>(() => failFast.Read([0], 0)).File);

        // Truncated: found when the source opens; its rows are skipped and counted.
        File.WriteAllBytes(testPath, File.ReadAllBytes(testPath)[..^100]);
        var opened = new DataIssueLog();
        var all = ParquetSource.Open(folder, null, new ParquetSourceOptions(), opened);
        Assert.Equal(train.Rows, all.Count);
        Assert.Equal(test.Rows, opened.SkippedSamples);
        Assert.Contains("truncated", opened.Items.Single().Reason);
        Assert.Equal(testPath, Assert.Throws<InvalidDataFileException>(() => ParquetSource.Open(folder, null, new ParquetSourceOptions(), new DataIssueLog(true))).File);
    }

    [Fact]
    public async Task A_manifest_that_disagrees_with_its_shards_is_refused_or_skipped()
    {
        string folder = Path.Combine(dir, "lie");
        await Write(folder, Images(20), new DatasetWriterOptions(GroupRows: 5));
        string manifestPath = Path.Combine(folder, DatasetManifest.FileName);
        string text = File.ReadAllText(manifestPath);
        File.WriteAllText(manifestPath, text.Replace("\"rows\": 20", "\"rows\": 21"));
        Assert.Contains(manifestPath, Assert.Throws<InvalidDataFileException>(() => DatasetManifest.Load(folder)).File);

        // Row groups that differ from the shard's footer: skipped at open, named.
        var m = System.Text.Json.JsonSerializer.Deserialize<DatasetManifest>(text)!;
        var shard = m.Shards.Single(s => s.RowGroups.Count >= 2);
        var groups = shard.RowGroups.ToList();
        groups[0] = groups[0] with { Rows = groups[0].Rows - 1 };
        groups[1] = groups[1] with { Rows = groups[1].Rows + 1 };
        (m with { Shards = m.Shards.Select(s => s == shard ? s with { RowGroups = groups } : s).ToList() }).Save(folder);
        var issues = new DataIssueLog();
        var source = ParquetSource.Open(folder, null, new ParquetSourceOptions(), issues);
        Assert.Equal(20 - shard.Rows, source.Count);
        Assert.Equal(shard.Rows, issues.SkippedSamples);
        Assert.Contains(shard.File, issues.Items.Single().File);
        Assert.Contains("row group 0", issues.Items.Single().Reason);
        Assert.False(ParquetDataset.Verify(folder).Ok);
    }

    [Fact]
    public async Task An_interrupted_ingest_leaves_no_shard_that_passes_verification()
    {
        string folder = Path.Combine(dir, "cut");
        using var cts = new CancellationTokenSource();
        async IAsyncEnumerable<Sample> Stream()
        {
            int n = 0;
            var rng = new Random(3);
            for (int i = 0; i < 200; i++)
            {
                var s = new Sample(Enumerable.Range(0, 25_600).Select(_ => (float)rng.NextDouble()).ToArray(), [25_600], null, $"big#{i}");
                if (++n == 150) cts.Cancel();
                yield return s;
                await Task.Yield();
            }
        }
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await using var writer = new DatasetWriter(folder, new DatasetWriterOptions(GroupRows: 10) { ShardMb = 1 });
            await foreach (var s in Stream().WithCancellation(cts.Token)) await writer.AddAsync(s, cts.Token);
        });
        var check = ParquetDataset.Verify(folder);
        Assert.False(check.Ok);
        Assert.Null(check.Manifest);
        Assert.NotEmpty(check.Shards); // completed shards were renamed before the cut, yet none passes
        Assert.DoesNotContain(check.Shards, s => s.Ok);
        Assert.Empty(Directory.GetFiles(folder, "*.tmp", SearchOption.AllDirectories));
        Assert.False(ParquetDataset.IsDataset(folder));

        // Ingesting again over it replaces it.
        await Write(folder, Images(30), new DatasetWriterOptions());
        Assert.True(ParquetDataset.Verify(folder).Ok);
    }
}
