using System.Diagnostics;
using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Devices;
using Maskwork.Backend.Training;
using Maskwork.Plugins.Image.Readers;
using static TorchSharp.torch;

namespace Maskwork.Bench.Cases;

/// <summary>
/// Fashion-MNIST in Maskwork's Parquet format (ingested once from the Debian IDX files) through the
/// data path (batch order → MAE augmentation → image tokenizer): samples/s of the data path alone on
/// one thread, then the share of trainer wall time spent waiting for data in a real MAE-Tiny/4 run.
/// </summary>
public sealed class PipelineCase : IBenchCase
{
    public string Name => "pipeline";
    public string Summary => "Fashion-MNIST parquet → augmentation → tokens: data-path samples/s and trainer data-wait share (--parquet DIR --steps 30 --batch 128 --precision fp32)";

    public async Task<int> RunAsync(BenchArgs args)
    {
        MaeTiny.Threads(args);
        var precision = Precision.Parse(args.String("precision", "fp32"));
        int batch = args.Int("batch", 128), steps = args.Int("steps", 30), warmup = args.Int("warmup", 3);
        string folder = args.String("parquet", Path.Combine(Path.GetTempPath(), "maskwork-bench", "fashion-mnist-parquet"));
        if (!Directory.Exists(folder) || Directory.GetFiles(folder, "*.parquet").Length == 0)
        {
            Console.Error.WriteLine($"pipeline: ingesting Fashion-MNIST (train) into {folder}");
            var idx = new DataSpec("fashion-mnist", args.String("idx", "")) { Split = "train" };
            await SampleParquet.WriteAsync(folder, new IdxReader("fashion-mnist", "fashion-mnist").ReadAsync(idx, new DataIssueLog(), CancellationToken.None), CancellationToken.None);
        }

        var read = Stopwatch.StartNew();
        var samples = new List<Sample>();
        await foreach (var s in SampleParquet.ReadAsync(new DataSpec("parquet", folder), new DataIssueLog(), CancellationToken.None)) samples.Add(s);
        double readS = read.Elapsed.TotalSeconds;

        // The data path alone, on this thread: order → samples → augmentation → tokens (as the prefetch thread runs it).
        var parts = MaeTiny.Parts();
        var set = new SampleSet(samples);
        var order = new BatchOrder(set.Count, batch, 1);
        var augment = new ImageAugment(1);
        int pathBatches = args.Int("path-batches", 40);
        for (int k = 0; k < 3; k++) PreparedBatch.Make(set.Batch(order, k), k, augment, parts.Tokenizer).Dispose();
        var path = Stopwatch.StartNew();
        for (int k = 0; k < pathBatches; k++) PreparedBatch.Make(set.Batch(order, k), k, augment, parts.Tokenizer).Dispose();
        double pathS = path.Elapsed.TotalSeconds;
        var noAug = Stopwatch.StartNew();
        for (int k = 0; k < pathBatches; k++) PreparedBatch.Make(set.Batch(order, k), k, null, parts.Tokenizer).Dispose();
        double noAugS = noAug.Elapsed.TotalSeconds;

        // A real run: how much of the trainer's wall time is spent waiting on the prefetch queue.
        var setup = MaeTiny.Setup(parts, batch, warmup + steps, precision) with { Augment = augment };
        using var trainer = new Trainer(setup, set);
        trainer.Run(warmup, CancellationToken.None);
        double waitBefore = trainer.DataWaitSeconds;
        var reports = new List<StepReport>();
        var wall = Stopwatch.StartNew();
        trainer.Run(warmup + steps, CancellationToken.None, reports.Add);
        double wallS = wall.Elapsed.TotalSeconds, waitS = trainer.DataWaitSeconds - waitBefore;
        BenchArgs.Emit(new
        {
            @case = Name, dataset = "fashion-mnist (parquet)", samples = samples.Count, batch, precision = Precision.Name(precision),
            parquet_read_samples_per_s = Math.Round(samples.Count / readS, 0),
            data_path_samples_per_s = Math.Round(pathBatches * batch / pathS, 0),
            data_path_no_augment_samples_per_s = Math.Round(pathBatches * batch / noAugS, 0),
            trainer_samples_per_s = Math.Round(steps * batch / wallS, 1),
            data_wait_s = Math.Round(waitS, 3), wall_s = Math.Round(wallS, 2),
            data_wait_share = Math.Round(waitS / wallS, 4),
            data_stage_share = Math.Round(reports.Sum(r => r.Timings!.Data) / wallS, 4),
            load1 = MaeTiny.Load1(),
        });
        return 0;
    }
}
