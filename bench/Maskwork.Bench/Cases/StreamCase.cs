using System.Diagnostics;
using System.Text.Json;
using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Devices;
using Maskwork.Backend.Training;
using Maskwork.Plugins.Image.Recipes;
using static TorchSharp.torch;

namespace Maskwork.Bench.Cases;

/// <summary>
/// Data at scale (DESIGN.md section 10): a dataset several GB on disk — Fashion-MNIST resampled to
/// 112×112×3 uint8 with seeded distortions (affine warp, per-channel tint, pixel noise), 124,000 rows
/// (4.08 GB) by default, straight from a generator — is ingested once (cached) into a dataset folder, then
/// <c>image/mae</c> trains on it at that size through the streamed Parquet source. Reports the peak
/// RSS of each phase (sampled every 50 ms), the source's read + decode rate on its own and the
/// trainer's rate and data-wait share.
/// </summary>
public sealed class StreamCase : IBenchCase
{
    public string Name => "stream";
    public string Summary => "≥4 GB generated 112×112×3 dataset: cached ingest, then image/mae from parquet (--dir DIR --rows 124000 --steps 200 --batch 128 --cache-mb 256)";

    const int Side = 112;

    public async Task<int> RunAsync(BenchArgs args)
    {
        MaeTiny.Threads(args);
        int rows = args.Int("rows", 124_000), steps = args.Int("steps", 200), batch = args.Int("batch", 128), cacheMb = args.Int("cache-mb", 256);
        string folder = args.String("dir", Path.Combine(Path.GetTempPath(), "maskwork-bench", $"stream-{rows}"));
        string stats = Path.Combine(folder, "..", Path.GetFileName(folder) + ".ingest.json");

        // 1. Ingest once (cached): generator → DatasetWriter, memory bounded by one row group per split.
        double ingestRss, ingestS;
        if (ParquetDataset.IsDataset(folder) && DatasetManifest.Load(folder).Rows == rows && File.Exists(stats))
        {
            var cached = JsonDocument.Parse(File.ReadAllText(stats)).RootElement;
            ingestRss = cached.GetProperty("ingest_rss_mb_peak").GetDouble();
            ingestS = cached.GetProperty("ingest_s").GetDouble();
            Console.Error.WriteLine($"stream: using the cached dataset {folder}");
        }
        else
        {
            Console.Error.WriteLine($"stream: ingesting {rows} generated {Side}×{Side}×3 rows into {folder}");
            using var rss = new RssSampler();
            var clock = Stopwatch.StartNew();
            var fm = await FashionMnist(args.String("idx", ""));
            await using (var writer = new DatasetWriter(folder, new DatasetWriterOptions()))
            {
                const int chunk = 256;
                for (int start = 0; start < rows; start += chunk)
                {
                    var made = new Sample[Math.Min(chunk, rows - start)];
                    Parallel.For(0, made.Length, i => made[i] = Generate(fm, start + i));
                    foreach (var s in made) await writer.AddAsync(s, CancellationToken.None);
                    if (start / chunk % 40 == 0) Console.Error.WriteLine($"stream: ingest {start + made.Length}/{rows} rows, {clock.Elapsed.TotalSeconds:F0}s, rss {RssSampler.CurrentMb():F0} MB");
                }
                await writer.CompleteAsync("generated:fashion-mnist-112x112x3", "fashion-mnist", new Dictionary<string, string> { ["size"] = $"{Side}" }, [], CancellationToken.None);
            }
            ingestS = clock.Elapsed.TotalSeconds;
            ingestRss = rss.PeakMb;
            File.WriteAllText(stats, JsonSerializer.Serialize(new { ingest_rss_mb_peak = ingestRss, ingest_s = ingestS }));
        }
        var manifest = DatasetManifest.Load(folder);
        double gb = manifest.Shards.Sum(s => s.Bytes) / 1e9;

        var sourcePhase = new RssSampler();
        var options = new ParquetSourceOptions(CacheMb: cacheMb, DecodeThreads: args.Int("decode-threads", 2));

        // 2. The source alone: read + decode of batches in epoch order, on a fresh source (cold cache).
        var probeSource = ParquetSource.Open(folder, null, options, new DataIssueLog());
        var partition = new DataPartition(EpochOrder.For(probeSource, 7), batch);
        int probeBatches = args.Int("source-batches", 60);
        var sourceClock = Stopwatch.StartNew();
        long read = 0;
        for (int k = 0; k < probeBatches; k++) read += partition.Read(probeSource, k).Count;
        double sourceRate = read / sourceClock.Elapsed.TotalSeconds;
        probeSource = null;
        double sourceRss = sourcePhase.PeakMb;
        sourcePhase.Dispose();
        // A real pretrain has no source-alone phase: drop its garbage before the training phase's peak is sampled.
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        using var train = new RssSampler();
        Console.Error.WriteLine($"stream: source alone {sourceRate:F0} samples/s; rss {RssSampler.CurrentMb():F0} MB after it (managed heap {GC.GetGCMemoryInfo().HeapSizeBytes >> 20} MB, committed {GC.GetGCMemoryInfo().TotalCommittedBytes >> 20} MB)");

        // 3. image/mae at 112×112×3 from the streamed source.
        var recipe = new ImageMaeRecipe("image/mae", "MAE on images", block: false);
        var model = new ImageMaeOptions { Size = Side, Channels = 3, Patch = 16, Mean = [0.3f], Std = [0.3f] };
        manual_seed(1);
        var parts = recipe.Build(model, new BuildContext(CPU, new DataSpec("parquet", folder)));
        var issues = new DataIssueLog();
        var source = ParquetSource.Open(folder, null, options, issues);
        var setup = new TrainerSetup("image/mae", parts, recipe.Training with { Batch = batch, Steps = steps, CheckpointEvery = 0 }, 1, CPU, Precision.Parse(args.String("precision", "fp32")));
        using var trainer = new Trainer(setup, source);
        var wall = Stopwatch.StartNew();
        double lastLoss = double.NaN;
        trainer.Run(steps, CancellationToken.None, r =>
        {
            lastLoss = r.Loss;
            if (r.Step % 20 == 0) Console.Error.WriteLine($"stream: step {r.Step}/{steps} loss {r.Loss:F4} {r.SamplesPerSecond:F0}/s rss {RssSampler.CurrentMb():F0} MB ({RssSampler.Breakdown()}; managed heap {GC.GetGCMemoryInfo().HeapSizeBytes >> 20} MB, committed {GC.GetGCMemoryInfo().TotalCommittedBytes >> 20} MB) cache {source.CachedBytes >> 20} MB");
        });
        double wallS = wall.Elapsed.TotalSeconds;
        BenchArgs.Emit(new
        {
            @case = Name, dataset_gb = Math.Round(gb, 3), rows = manifest.Rows, shards = manifest.Shards.Count, shape = $"3x{Side}x{Side} uint8",
            ingest_s = Math.Round(ingestS, 1), ingest_rss_mb_peak = Math.Round(ingestRss, 1), rss_mb_peak = Math.Round(train.PeakMb, 1), source_rss_mb_peak = Math.Round(sourceRss, 1), cache_mb = cacheMb,
            source_samples_per_s = Math.Round(sourceRate, 1), trainer_samples_per_s = Math.Round(steps * batch / wallS, 1),
            data_wait_share = Math.Round(trainer.DataWaitSeconds / wallS, 4), data_wait_s = Math.Round(trainer.DataWaitSeconds, 2), wall_s = Math.Round(wallS, 1),
            steps, batch, final_loss = Math.Round(lastLoss, 4), groups_read = source.GroupsRead, skipped = issues.SkippedSamples, load1 = MaeTiny.Load1(),
            managed_committed_mb = GC.GetGCMemoryInfo().TotalCommittedBytes >> 20,
        });
        return 0;
    }

    sealed record Idx(byte[][] Images, int[] Labels);

    static async Task<Idx> FashionMnist(string path)
    {
        var folder = IdxFiles.Locate(IdxFiles.SearchFolders(path, "fashion-mnist"))
            ?? throw new DirectoryNotFoundException("Fashion-MNIST IDX files not found: apt-get install dataset-fashion-mnist");
        var images = new List<byte[]>();
        var labels = new List<int>();
        await foreach (var split in IdxFiles.ReadAsync(folder, null, new DataIssueLog(true), requireSplit: false, CancellationToken.None))
            for (int i = 0; i < split.Count; i++) { images.Add(split.Image(i).ToArray()); labels.Add(split.Label(i)); }
        return new Idx([.. images], [.. labels]);
    }

    /// <summary>Row <paramref name="row"/>: a Fashion-MNIST image warped (scale, rotation, shift), tinted per channel and noised, seeded by the row.</summary>
    static Sample Generate(Idx fm, int row)
    {
        int source = row % fm.Images.Length;
        var img = fm.Images[source];
        var rng = new Random((int)(SeedMix.Of(2026, row) & 0x7fffffff));
        double angle = (rng.NextDouble() - 0.5) * 0.6, scale = 0.85 + rng.NextDouble() * 0.3;
        double tx = (rng.NextDouble() - 0.5) * 4, ty = (rng.NextDouble() - 0.5) * 4;
        double cos = Math.Cos(angle) / scale * 28.0 / Side, sin = Math.Sin(angle) / scale * 28.0 / Side;
        Span<double> tint = [0.6 + rng.NextDouble() * 0.4, 0.6 + rng.NextDouble() * 0.4, 0.6 + rng.NextDouble() * 0.4];
        var data = new byte[3 * Side * Side];
        for (int y = 0; y < Side; y++)
            for (int x = 0; x < Side; x++)
            {
                double cx = x - Side / 2.0 + 0.5, cy = y - Side / 2.0 + 0.5;
                double sx = cos * cx - sin * cy + 14 + tx - 0.5, sy = sin * cx + cos * cy + 14 + ty - 0.5;
                int x0 = (int)Math.Floor(sx), y0 = (int)Math.Floor(sy);
                double fx = sx - x0, fy = sy - y0;
                double P(int px, int py) => px is >= 0 and < 28 && py is >= 0 and < 28 ? img[py * 28 + px] : 0;
                double v = (1 - fy) * ((1 - fx) * P(x0, y0) + fx * P(x0 + 1, y0)) + fy * ((1 - fx) * P(x0, y0 + 1) + fx * P(x0 + 1, y0 + 1));
                for (int c = 0; c < 3; c++)
                    data[(c * Side + y) * Side + x] = (byte)Math.Clamp(v * tint[c] + rng.Next(-12, 13), 0, 255);
            }
        return Sample.Typed(data, SampleDType.UInt8, [3, Side, Side], fm.Labels[source], $"generated#{row}", normalized: true) with { Split = "train" };
    }

    /// <summary>Peak resident set size of this process, sampled every 50 ms while alive.</summary>
    sealed class RssSampler : IDisposable
    {
        readonly CancellationTokenSource cts = new();
        readonly Task task;
        double peak;

        public RssSampler()
        {
            peak = CurrentMb();
            task = Task.Run(async () =>
            {
                while (!cts.IsCancellationRequested)
                {
                    double now = CurrentMb();
                    if (now > Volatile.Read(ref peak)) Volatile.Write(ref peak, now);
                    try { await Task.Delay(50, cts.Token); } catch (OperationCanceledException) { }
                }
            });
        }

        public double PeakMb => Math.Max(Volatile.Read(ref peak), CurrentMb());

        public static double CurrentMb()
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024;
            return 0;
        }

        /// <summary>Anonymous (heaps: managed and native) and file-backed (mapped libraries) resident memory.</summary>
        public static string Breakdown()
        {
            double anon = 0, file = 0;
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                double Mb() => double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024;
                if (line.StartsWith("RssAnon:", StringComparison.Ordinal)) anon = Mb();
                else if (line.StartsWith("RssFile:", StringComparison.Ordinal)) file = Mb();
            }
            return $"anon {anon:F0} MB, files {file:F0} MB";
        }

        public void Dispose()
        {
            cts.Cancel();
            task.Wait();
            cts.Dispose();
        }
    }
}
