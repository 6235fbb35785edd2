using System.Diagnostics;
using Maskwork.Abstractions;
using Maskwork.Backend.Masking;
using static TorchSharp.torch;

namespace Maskwork.Bench.Cases;

/// <summary>
/// ColorMAE's two ways to make noise masks, timed interleaved: a fresh filtered field per sample (torch.fft on
/// a grid twice the size, cropped) vs a pre-generated bank cropped and flipped per sample; plus random masking
/// as the floor. Milliseconds per batch plan.
/// </summary>
public sealed class MaskerNoiseCase : IBenchCase
{
    public string Name => "masker-noise";
    public string Summary => "noise masks: per-sample generation vs pre-generated bank (--batch 128 --repeat 30 --bank 256 --threads 2)";

    public Task<int> RunAsync(BenchArgs args)
    {
        MaeTiny.Threads(args);
        int batch = args.Int("batch", 128), repeat = args.Int("repeat", 30), bankSize = args.Int("bank", 256);
        var rows = new List<object>();
        foreach (var grid in new[] { new GridLayout([7, 7]), new GridLayout([14, 14]), new GridLayout([8, 14, 14]) })
        {
            var tokens = new TokenBatch(zeros(batch, grid.Count, 1), grid) { SampleKeys = arange(batch, dtype: ScalarType.Int64) };
            var maskers = new (string Name, IMasker Masker)[]
            {
                ("per_sample", new NoiseMasker(0.6, NoiseColor.Green)),
                ("bank", new NoiseMasker(0.6, NoiseColor.Green) { BankSize = bankSize }),
                ("random", new RandomMasker(0.6)),
            };
            var times = maskers.ToDictionary(m => m.Name, _ => new List<double>());
            for (int r = -3; r < repeat; r++)
                foreach (var (name, masker) in maskers)
                {
                    using var scope = NewDisposeScope();
                    var clock = Stopwatch.StartNew();
                    var plan = masker.Plan(tokens, new MaskContext(r + 10, null!) { Seed = 1 });
                    _ = plan.Masked.sum().item<long>();
                    if (r >= 0) times[name].Add(clock.Elapsed.TotalMilliseconds);
                }
            double Median(List<double> v) => Math.Round(v.Order().ElementAt(v.Count / 2), 3);
            rows.Add(new { grid = grid.ToString(), per_sample_ms = Median(times["per_sample"]), bank_ms = Median(times["bank"]), random_ms = Median(times["random"]) });
        }
        BenchArgs.Emit(new { @case = Name, batch, bank = bankSize, threads = get_num_threads(), results = rows, load1 = MaeTiny.Load1() });
        return Task.FromResult(0);
    }
}
