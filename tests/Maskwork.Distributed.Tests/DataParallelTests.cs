using System.Diagnostics;
using System.Text.Json;
using Maskwork.Backend.Training;
using static TorchSharp.torch;

namespace Maskwork.Distributed.Tests;

/// <summary>
/// Data-parallel training with real ranks (`mpirun -np 2`, DESIGN.md section 11): 2 ranks × batch B train
/// like one process with batch 2B, resume across world sizes is refused unless forced, and a job that
/// lost a rank resumes to the same loss as one that did not.
/// </summary>
public sealed class DataParallelTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("mw-dist-").FullName;
    readonly string data;

    public DataParallelTests() => data = SmallData.FashionMnist(Path.Combine(dir, "data"), 512);

    public void Dispose()
    {
        try { Directory.Delete(dir, true); } catch (IOException) { }
    }

    const int B = 16;

    string[] Tiny =>
    [
        "--recipe", "image/mae", "--data", data, "--seed", "3", "--json",
        "--set", "model.encoder_dim=32", "--set", "model.encoder_depth=1", "--set", "model.encoder_heads=2",
        "--set", "model.decoder_dim=16", "--set", "model.decoder_depth=1", "--set", "model.decoder_heads=2",
        "--set", "train.log_every=1", "--set", "train.warmup_steps=2",
    ];

    static string[] Args(params string[][] parts) => parts.SelectMany(p => p).ToArray();

    static List<double> StepLosses(string run) =>
        File.ReadAllLines(Path.Combine(run, "progress.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("loss").GetDouble()).ToList();

    static Dictionary<string, Tensor> ModelTensors(string run) =>
        Checkpoint.Load(Path.Combine(run, "checkpoints", "last.ckpt")).Tensors.Where(kv => kv.Key.StartsWith("model.", StringComparison.Ordinal)).ToDictionary();

    [Fact]
    public void Two_ranks_with_batch_B_train_like_one_process_with_batch_2B()
    {
        string two = Path.Combine(dir, "two"), one = Path.Combine(dir, "one");
        var dist = Mpi.Ranks(2, Args(["pretrain"], Tiny, ["--steps", "5", "--batch", $"{B}", "--out", two]));
        var single = Mpi.Single(Args(["pretrain"], Tiny, ["--steps", "5", "--batch", $"{2 * B}", "--out", one, "--dist", "none"])).Ok();

        // What differs, measured before any assertion, so a failing run (the negative control) says by how much.
        var a = File.Exists(Path.Combine(two, "checkpoints", "last.ckpt")) ? ModelTensors(two) : [];
        var b = ModelTensors(one);
        double maxDiff = a.Count == 0 ? double.NaN : b.Max(kv => kv.Value.sub(a[kv.Key]).abs().max().item<float>());
        var lossesTwo = File.Exists(Path.Combine(two, "progress.jsonl")) ? StepLosses(two) : [];
        var lossesOne = StepLosses(one);
        string numbers = $"max |Δparameter| {maxDiff:E3}; losses 2×{B}: [{string.Join(", ", lossesTwo.Select(l => l.ToString("F6")))}], 1×{2 * B}: [{string.Join(", ", lossesOne.Select(l => l.ToString("F6")))}]";
        Console.WriteLine(numbers);

        Assert.True(dist.ExitCode == 0, numbers + "\n" + dist);
        var j = dist.Json();
        Assert.Equal(2, j.GetProperty("world_size").GetInt32());
        Assert.Equal("openmpi", j.GetProperty("dist").GetString());
        Assert.Equal(2 * B, j.GetProperty("global_batch").GetInt32());
        Assert.True(j.GetProperty("replicas_identical").GetBoolean(), "the two ranks' parameters and optimizer state must be bitwise identical");
        Assert.Equal(1, single.Json().GetProperty("world_size").GetInt32());

        Assert.Equal(5, lossesTwo.Count);
        Assert.Equal(5, lossesOne.Count);
        for (int i = 0; i < 5; i++) Assert.True(Math.Abs(lossesTwo[i] - lossesOne[i]) <= 1e-5, $"step {i + 1} loss differs: {numbers}");
        Assert.Equal(b.Keys.Order(), a.Keys.Order());
        Assert.True(maxDiff <= 2e-4, numbers);
        Assert.True(maxDiff > 0 || lossesTwo.SequenceEqual(lossesOne), numbers); // (bitwise equal would also be fine)

        // Only rank 0 writes: one log, one metrics file, one JSON result line.
        Assert.Single(dist.Stdout.Split('\n'), l => l.Contains("{\"run\":", StringComparison.Ordinal)); // (mpirun may prefix terminal escapes)
        Assert.Contains("world_size=2", File.ReadAllText(Path.Combine(two, "log.txt")));

        // The checkpoint records its world size; resuming it in one process is refused with what changes, unless forced.
        Assert.Equal(2, Checkpoint.Load(Path.Combine(two, "checkpoints", "last.ckpt")).State.WorldSize);
        var refused = Mpi.Single("resume", "--run", two, "--steps", "6", "--json", "--dist", "none");
        Assert.True(refused.ExitCode == 1, refused.ToString());
        Assert.Contains("written by 2 ranks, resumed by 1", refused.Stderr);
        Assert.Contains("mpirun -np 2", refused.Stderr);
        Assert.Contains("--force-world-size", refused.Stderr);
        var forced = Mpi.Single("resume", "--run", two, "--steps", "6", "--json", "--dist", "none", "--force-world-size").Ok();
        Assert.Equal(6, forced.Json().GetProperty("steps").GetInt64());
        Assert.Equal(1, Checkpoint.Load(Path.Combine(two, "checkpoints", "last.ckpt")).State.WorldSize);
    }

    [Fact]
    public void Dist_none_under_a_two_rank_mpirun_is_refused()
    {
        var r = Mpi.Ranks(2, Args(["pretrain"], Tiny, ["--steps", "1", "--out", Path.Combine(dir, "none"), "--dist", "none"]));
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("every rank would train its own copy", r.Stderr);
        Assert.False(File.Exists(Path.Combine(dir, "none", "checkpoints", "last.ckpt")));
    }

    [Fact]
    public async Task A_sigkilled_rank_aborts_the_job_and_resume_finishes_with_the_uninterrupted_loss()
    {
        const int steps = 400; // long enough that the poll (every 20 ms) sees the first checkpoint before the run ends
        string straight = Path.Combine(dir, "straight"), killed = Path.Combine(dir, "killed");
        var common = Args(["pretrain"], Tiny, ["--steps", $"{steps}", "--batch", "8", "--set", "train.checkpoint_every=5"]);
        var reference = Mpi.Ranks(2, Args(common, ["--out", straight])).Ok();

        using var job = Mpi.Start(true, 2, Args(common, ["--out", killed]));
        var stdout = job.StandardOutput.ReadToEndAsync();
        var stderr = job.StandardError.ReadToEndAsync();
        var clock = Stopwatch.StartNew();
        // Kill rank 1 once a checkpoint exists and before the run can finish.
        while (!Directory.Exists(Path.Combine(killed, "checkpoints")) || Directory.GetFiles(Path.Combine(killed, "checkpoints"), "step-*.ckpt").Length == 0)
        {
            // (Await stderr only once the job has ended: an interpolated await in the message would block every poll until it does.)
            if (job.HasExited) Assert.Fail($"the job ended before its first checkpoint: {await stderr}");
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(3), "no checkpoint after 3 minutes");
            await Task.Delay(20);
        }
        int pid = Mpi.RankProcess(1, killed) ?? throw new InvalidOperationException($"rank 1 not found; job exited {job.HasExited}; checkpoints [{string.Join(", ", Directory.GetFiles(Path.Combine(killed, "checkpoints")).Select(Path.GetFileName))}]; candidates: {Mpi.Describe()}");
        Process.GetProcessById(pid).Kill(); // SIGKILL
        Assert.True(job.WaitForExit(TimeSpan.FromMinutes(2)), "mpirun did not end the job after a rank was killed");
        Assert.NotEqual(0, job.ExitCode);
        string err = await stderr;
        _ = await stdout;
        long reached = Checkpoint.Load(Path.Combine(killed, "checkpoints", "last.ckpt")).State.Step;
        Assert.InRange(reached, 5, steps - 1);

        var resumed = Mpi.Ranks(2, "resume", "--run", killed, "--steps", $"{steps}", "--json").Ok();
        Assert.Equal(steps, resumed.Json().GetProperty("steps").GetInt64());
        Assert.True(resumed.Json().GetProperty("replicas_identical").GetBoolean());
        double want = reference.Json().GetProperty("final_loss").GetDouble(), got = resumed.Json().GetProperty("final_loss").GetDouble();
        Console.WriteLine($"killed at/after step {reached} (mpirun exit {job.ExitCode}); final_loss uninterrupted {want:R}, resumed {got:R}");
        Assert.True(want == got, $"final_loss {got:R} after the resume, {want:R} uninterrupted; mpirun said: {err[^Math.Min(err.Length, 2000)..]}");
    }
}
