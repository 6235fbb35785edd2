using System.Diagnostics;
using Maskwork.Backend.Data;
using Maskwork.Backend.Devices;
using Maskwork.Backend.Training;
using static TorchSharp.torch;

namespace Maskwork.Bench.Cases;

/// <summary>
/// Process RSS and live TorchSharp tensors at step 200 and step 2,000 of a real training run (image
/// plugin tokenizer + augmentation on the prefetch thread, MAE-Tiny/4 model, flat AdamW): flat memory
/// means per-step tensors are all disposed.
/// </summary>
public sealed class MemoryCase : IBenchCase
{
    public string Name => "memory";
    public string Summary => "RSS and live tensors at step 200 and 2,000 (MAE-Tiny/4, --batch 16 --precision fp32|bf16 --steps 2000 --early 200)";

    static long RssBytes()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        return 0;
    }

    /// <summary>Tensors counted before any collection (a leak the finalizer would hide still shows), then RSS after a full GC.</summary>
    static (long Rss, long Tensors, long ManagedBytes) Sample()
    {
        long tensors = Tensor.TotalCount;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return (RssBytes(), tensors, GC.GetTotalMemory(false));
    }

    public Task<int> RunAsync(BenchArgs args)
    {
        MaeTiny.Threads(args);
        var precision = Precision.Parse(args.String("precision", "fp32"));
        int batch = args.Int("batch", 16), steps = args.Int("steps", 2000), early = args.Int("early", 200);
        var parts = MaeTiny.Parts();
        var setup = MaeTiny.Setup(parts, batch, steps, precision) with { Augment = new ImageAugment(1) };
        using var trainer = new Trainer(setup, new SampleSet(MaeTiny.Samples(4096)));
        var clock = Stopwatch.StartNew();
        trainer.Run(early, CancellationToken.None);
        var at200 = Sample();
        trainer.Run(steps, CancellationToken.None);
        var atEnd = Sample();
        double growth = (double)(atEnd.Rss - at200.Rss) / at200.Rss;
        BenchArgs.Emit(new
        {
            @case = Name, precision = Precision.Name(precision), batch,
            early_step = early, final_step = steps,
            rss_mb_early = Math.Round(at200.Rss / 1048576.0, 1), rss_mb_final = Math.Round(atEnd.Rss / 1048576.0, 1),
            rss_growth_pct = Math.Round(growth * 100, 2),
            live_tensors_early = at200.Tensors, live_tensors_final = atEnd.Tensors,
            managed_mb_early = Math.Round(at200.ManagedBytes / 1048576.0, 1), managed_mb_final = Math.Round(atEnd.ManagedBytes / 1048576.0, 1),
            seconds = Math.Round(clock.Elapsed.TotalSeconds, 1), load1 = MaeTiny.Load1(),
        });
        return Task.FromResult(0);
    }
}
