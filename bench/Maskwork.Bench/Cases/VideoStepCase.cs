using System.Diagnostics;
using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Devices;
using Maskwork.Backend.Training;
using Maskwork.Plugins.Video.Recipes;
using static TorchSharp.torch;

namespace Maskwork.Bench.Cases;

/// <summary>
/// One VideoMAE(-V2) pretraining step through the video plugin's tokenizer, tube masker, encoder and
/// objective and the trainer, in the configuration of ../shared/peers/videomae_torch.py: 8 grey 64×64
/// frames, tubelets 2×8×8 (256 tokens), tube mask 0.9, encoder 192 × 6 × 3, decoder 96 × 2 × 3, batch 16,
/// AdamW; <c>--dual</c> adds the running-cell decoder mask 0.5. Clips are uint8 videos (32 frames) held in
/// memory, a clip drawn per sample per epoch, as training from an ingested dataset would.
/// </summary>
public sealed class VideoStepCase : IBenchCase
{
    public string Name => "video-step";
    public string Summary => "VideoMAE-Tiny train step via the video plugin + Trainer, the videomae_torch.py peer's configuration (--dual --precision fp32|bf16 --batch 16 --threads 2 --steps 20 --warmup 5 --workers 0|1|2 --attention auto|sdpa|batched)";

    public Task<int> RunAsync(BenchArgs args)
    {
        MaeTiny.Threads(args);
        var precision = Precision.Parse(args.String("precision", "fp32"));
        bool dual = args.Flag("dual");
        string attention = MaeTiny.Attention(args);
        int batch = args.Int("batch", 16), steps = args.Int("steps", 20), warmup = args.Int("warmup", 5);
        // The peer's decoder has 2 blocks (the recipe's default is 4).
        var options = new VideoMaeOptions { DecoderMasker = dual ? "running-cell" : "none", DecoderDepth = 2 };
        var recipe = new VideoMaeRecipe(dual ? "video/videomae-v2" : "video/videomae", "bench", options);
        manual_seed(0);
        var parts = recipe.Build(options, new BuildContext(CPU, new DataSpec("bench", "")));
        var train = recipe.Training with { Steps = warmup + steps, Batch = batch, WarmupSteps = 1, CheckpointEvery = 0, LogEvery = 1, Workers = args.Int("workers", 0) };
        using var trainer = new Trainer(new TrainerSetup(recipe.Name, parts, train, 1, CPU, precision), new SampleSet(Clips(Math.Max(256, batch * 8))));
        trainer.Run(warmup, CancellationToken.None);
        var reports = new List<StepReport>();
        var clock = Stopwatch.StartNew();
        trainer.Run(warmup + steps, CancellationToken.None, reports.Add);
        double wall = clock.Elapsed.TotalSeconds;
        double Ms(Func<StepTimings, double> f) => Math.Round(reports.Average(r => f(r.Timings!)) * 1000, 2);
        BenchArgs.Emit(new
        {
            @case = Name, precision = Precision.Name(precision), dual, attention, batch, threads = get_num_threads(), workers = trainer.Workers, steps,
            tokens = 256, clips_per_s = Math.Round(batch * steps / wall, 2), step_ms = Math.Round(wall / steps * 1000, 1),
            data_ms = Ms(t => t.Data), forward_ms = Ms(t => t.Forward), backward_ms = Ms(t => t.Backward), optimizer_ms = Ms(t => t.Optimizer),
            data_share = Math.Round(reports.Sum(r => r.Timings!.Data) / wall, 4),
            loss = Math.Round(reports[^1].Loss, 4), parameters = trainer.Optimizer.Count, load1 = MaeTiny.Load1(),
        });
        return Task.FromResult(0);
    }

    /// <summary>Random uint8 videos [32, 64, 64, 1] (the peer feeds random tensors too; content does not change the cost).</summary>
    static List<Sample> Clips(int count)
    {
        var rng = new Random(1);
        return Enumerable.Range(0, count).Select(i =>
        {
            var bytes = new byte[32 * 64 * 64];
            rng.NextBytes(bytes);
            return Sample.Typed(bytes, SampleDType.UInt8, [32, 64, 64, 1], null, $"clip{i}", normalized: true);
        }).ToList();
    }
}
