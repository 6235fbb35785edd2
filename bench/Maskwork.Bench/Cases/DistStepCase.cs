using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Maskwork.Backend.Data;
using Maskwork.Backend.Devices;
using Maskwork.Backend.Distributed;
using Maskwork.Backend.Training;
using static TorchSharp.torch;

namespace Maskwork.Bench.Cases;

/// <summary>
/// Data-parallel MAE-Tiny/4 steps (DESIGN.md section 11): samples/s of 1 rank and of N ranks under
/// mpirun on this machine, one thread each, batch B per rank (weak scaling, as DDP), the share of the
/// step spent in the gradient all-reduce, and the scaling efficiency (N-rank throughput / N × 1-rank).
/// Rounds alternate 1 and N ranks so load drift hits both. Run without mpirun: it launches mpirun itself.
/// </summary>
public sealed class DistStepCase : IBenchCase
{
    public string Name => "dist-step";
    public string Summary => "MAE-Tiny/4 data-parallel steps: 1 vs N ranks under mpirun, one thread each (--ranks 2 --batch 64 --steps 20 --warmup 5 --rounds 2 --precision fp32)";

    public async Task<int> RunAsync(BenchArgs args)
    {
        if (args.Flag("rank-worker")) return Worker(args);
        int ranks = args.Int("ranks", 2), rounds = args.Int("rounds", 2);
        string forward = string.Join(' ', new[] { "batch", "steps", "warmup", "precision" }.Where(k => args.Value(k) is not null).Select(k => $"--{k} {args.Value(k)}"));
        var one = new List<JsonElement>();
        var many = new List<JsonElement>();
        for (int r = 0; r < rounds; r++)
        {
            one.Add(await Launch(1, forward));
            many.Add(await Launch(ranks, forward));
        }
        double Median(List<JsonElement> runs, string key)
        {
            var v = runs.Select(j => j.GetProperty(key).GetDouble()).Order().ToList();
            return v.Count % 2 == 1 ? v[v.Count / 2] : (v[v.Count / 2 - 1] + v[v.Count / 2]) / 2;
        }
        double s1 = Median(one, "samples_per_s"), sN = Median(many, "samples_per_s");
        BenchArgs.Emit(new
        {
            @case = Name, ranks, batch_per_rank = args.Int("batch", 64), threads_per_rank = 1, precision = args.String("precision", "fp32"), rounds,
            samples_per_s_1 = Math.Round(s1, 1), samples_per_s_n = Math.Round(sN, 1),
            scaling_efficiency = Math.Round(sN / (ranks * s1), 3),
            step_ms_1 = Median(one, "step_ms"), step_ms_n = Median(many, "step_ms"),
            allreduce_ms_n = Median(many, "allreduce_ms"), allreduce_share_n = Math.Round(Median(many, "allreduce_share"), 4),
            gradient_mb = many[0].GetProperty("gradient_mb").GetDouble(),
            runs_1 = one.Select(j => j.GetProperty("samples_per_s").GetDouble()).ToList(),
            runs_n = many.Select(j => j.GetProperty("samples_per_s").GetDouble()).ToList(),
            cores = Environment.ProcessorCount, load1 = MaeTiny.Load1(),
        });
        return 0;
    }

    /// <summary>Runs this case's worker under <c>mpirun -np <paramref name="ranks"/></c> and returns rank 0's JSON.</summary>
    static async Task<JsonElement> Launch(int ranks, string forward)
    {
        string self = Path.Combine(AppContext.BaseDirectory, "Maskwork.Bench.dll");
        var psi = new ProcessStartInfo("mpirun") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in $"--allow-run-as-root --oversubscribe -np {ranks} --bind-to core dotnet {self} dist-step --rank-worker {forward}".Split(' ', StringSplitOptions.RemoveEmptyEntries))
            psi.ArgumentList.Add(a);
        Console.Error.WriteLine($"dist-step: {ranks} rank(s) …");
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("mpirun did not start: install openmpi-bin");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        string output = await stdout;
        if (p.ExitCode != 0) throw new InvalidOperationException($"mpirun -np {ranks} exited {p.ExitCode}: {await stderr}");
        // The last JSON line (a terminal may add escape sequences around mpirun's output).
        string json = output.Split('\n').Select(l => l.Trim().TrimStart('\u001b')).Select(l => l[Math.Max(0, l.IndexOf('{'))..]).Last(l => l.StartsWith('{'));
        return JsonDocument.Parse(json).RootElement.Clone();
    }

    /// <summary>One rank: MAE-Tiny on noise, one thread, rank 0 prints the timings.</summary>
    static int Worker(BenchArgs args)
    {
        set_num_threads(1);
        var precision = Precision.Parse(args.String("precision", "fp32"));
        int batch = args.Int("batch", 64), steps = args.Int("steps", 20), warmup = args.Int("warmup", 5);
        using var comm = Communicators.Create("auto");
        var parts = MaeTiny.Parts();
        var setup = MaeTiny.Setup(parts, batch, warmup + steps, precision) with { Communicator = comm };
        setup = setup with { Options = setup.Options with { Workers = 1 } };
        using var trainer = new Trainer(setup, new SampleSet(MaeTiny.Samples(Math.Max(1024, batch * comm.Size * 4))));
        trainer.Run(warmup, CancellationToken.None);
        var reports = new List<StepReport>();
        comm.Barrier();
        var clock = Stopwatch.StartNew();
        trainer.Run(warmup + steps, CancellationToken.None, reports.Add);
        double wall = clock.Elapsed.TotalSeconds;
        bool identical = trainer.ReplicasIdentical();
        if (comm.Rank == 0)
            BenchArgs.Emit(new
            {
                ranks = comm.Size, batch, steps,
                samples_per_s = Math.Round(batch * comm.Size * steps / wall, 2),
                step_ms = Math.Round(wall / steps * 1000, 2),
                allreduce_ms = Math.Round(reports.Average(r => r.Timings!.AllReduce) * 1000, 3),
                allreduce_share = Math.Round(reports.Sum(r => r.Timings!.AllReduce) / wall, 4),
                gradient_mb = Math.Round(trainer.Optimizer.Count * 4 / 1e6, 2),
                replicas_identical = identical,
                loss = Math.Round(reports[^1].Loss, 4).ToString(CultureInfo.InvariantCulture),
            });
        return 0;
    }
}
