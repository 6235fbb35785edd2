using System.Diagnostics;
using Maskwork.Backend.Data;
using Maskwork.Backend.Devices;
using Maskwork.Backend.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Maskwork.Bench.Cases;

/// <summary>
/// One MAE-Tiny/4 training step through the real image tokenizer, masker, encoder, objective and
/// trainer: img/s after warm-up, where the step's time goes, and achieved GFLOP/s against a GEMM
/// measured in the same process.
/// </summary>
public sealed class MaeStepCase : IBenchCase
{
    public string Name => "mae-step";
    public string Summary => "MAE-Tiny/4 train step via the image plugin + Trainer (--precision fp32|bf16 --batch 128 --threads 2 --steps 20 --warmup 5 --workers 0|1|2 --attention auto|sdpa|batched --conv-gemm auto|true|false --device cpu|cuda)";

    public Task<int> RunAsync(BenchArgs args)
    {
        MaeTiny.Threads(args);
        var precision = Precision.Parse(args.String("precision", "fp32"));
        int batch = args.Int("batch", 128), steps = args.Int("steps", 20), warmup = args.Int("warmup", 5);
        string convGemm = args.String("conv-gemm", "auto"); // auto: the Dense default (on with AVX-512)
        if (convGemm != "auto") Maskwork.Backend.Nn.Dense.ConvolutionGemm = convGemm != "false";
        string attention = MaeTiny.Attention(args);
        var device = TorchRuntime.Select(args.String("device", "cpu")); // cuda: through the Libtorch setting (MASKWORK__LIBTORCH), see gpu-check.sh
        var (gemm, gemmMm, gemmConv) = device.type == DeviceType.CPU ? MaeTiny.GemmPeak(precision) : (0.0, 0.0, 0.0); // no CPU GEMM peak to compare a GPU step with

        var parts = MaeTiny.Parts(device: device);
        var setup = MaeTiny.Setup(parts, batch, warmup + steps, precision, device: device);
        setup = setup with { Options = setup.Options with { Workers = args.Int("workers", 0) } };
        using var trainer = new Trainer(setup, new SampleSet(MaeTiny.Samples(Math.Max(1024, batch * 4))));
        trainer.Run(warmup, CancellationToken.None);
        var reports = new List<StepReport>();
        var clock = Stopwatch.StartNew();
        trainer.Run(warmup + steps, CancellationToken.None, reports.Add);
        double wall = clock.Elapsed.TotalSeconds;

        double Ms(Func<StepTimings, double> f) => Math.Round(reports.Average(r => f(r.Timings!)) * 1000, 2);
        double stepS = wall / steps;
        double flops = MaeTiny.TrainFlops(batch);
        BenchArgs.Emit(new
        {
            @case = Name, device = device.type.ToString().ToLowerInvariant(), precision = Precision.Name(precision), batch, threads = get_num_threads(), workers = trainer.Workers, steps,
            attention, conv_gemm = Maskwork.Backend.Nn.Dense.ConvolutionGemm,
            img_per_s = Math.Round(batch * steps / wall, 1),
            step_ms = Math.Round(stepS * 1000, 1),
            data_ms = Ms(t => t.Data), forward_ms = Ms(t => t.Forward), backward_ms = Ms(t => t.Backward), optimizer_ms = Ms(t => t.Optimizer),
            optimizer_share = Math.Round(reports.Sum(r => r.Timings!.Optimizer) / wall, 4),
            gflops = Math.Round(flops / stepS / 1e9, 1),
            gemm_peak_gflops = Math.Round(gemm, 1), gemm_mm_gflops = Math.Round(gemmMm, 1), gemm_conv1x1_gflops = Math.Round(gemmConv, 1),
            loss = Math.Round(reports[^1].Loss, 4),
            parameters = trainer.Optimizer.Count,
            load1 = MaeTiny.Load1(),
        });
        return Task.FromResult(0);
    }
}
