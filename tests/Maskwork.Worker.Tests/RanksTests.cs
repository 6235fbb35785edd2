using System.Text.Json.Nodes;

namespace Maskwork.Worker.Tests;

/// <summary>A job that asks for 2 ranks runs under mpirun (DESIGN.md section 11); a cancel reaches every rank and writes a checkpoint.</summary>
public sealed class RanksTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("mw-worker-ranks-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(dir, true); } catch (IOException) { }
    }

    static string State(JsonObject j) => j["state"]!.GetValue<string>();
    static bool Final(JsonObject j) => State(j) is "succeeded" or "failed" or "cancelled";

    /// <summary>Live processes whose command line names this test's runs root (mpirun and its ranks).</summary>
    static int[] JobProcesses(string runsRoot) => Directory.GetDirectories("/proc").Select(Path.GetFileName)
        .Select(p => int.TryParse(p, out int pid) ? pid : 0).Where(pid => pid > 0).Where(pid =>
        {
            try { return File.ReadAllText($"/proc/{pid}/cmdline").Contains(runsRoot, StringComparison.Ordinal) && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal); }
            catch (IOException) { return false; }
        }).ToArray();

    [Fact]
    public void A_two_rank_job_runs_under_mpirun_and_a_cancel_checkpoints_every_rank()
    {
        using var w = new Worker(dir).Start();

        var shortJob = Worker.TinyJob(20);
        shortJob["ranks"] = 2;
        shortJob["name"] = "two-ranks";
        var created = w.Submit(shortJob);
        Assert.Equal(2, created["ranks"]!.GetValue<int>());
        var done = w.WaitFor(created["id"]!.GetValue<long>(), Final, 120);
        Assert.True(State(done) == "succeeded", done.ToJsonString() + "\n" + Worker.Log(done));
        var result = done["result"]!;
        Assert.Equal(2, result["world_size"]!.GetValue<int>());
        Assert.Equal("openmpi", result["dist"]!.GetValue<string>());
        Assert.Equal(64, result["global_batch"]!.GetValue<int>()); // --batch is per rank
        Assert.Equal(20, result["steps"]!.GetValue<long>());
        Assert.True(result["replicas_identical"]!.GetValue<bool>());
        Assert.Contains("attempt 1 of 3: mpirun -np 2 maskwork pretrain", Worker.Log(done));

        // Cancel: SIGTERM to the job's session reaches mpirun and both ranks; they agree on the step, rank 0 writes the checkpoint.
        var longJob = Worker.TinyJob(4000);
        longJob["ranks"] = 2;
        long id = w.Submit(longJob)["id"]!.GetValue<long>();
        w.WaitFor(id, j => State(j) == "running" && Worker.HasCheckpoint(j), 120);
        var cancel = w.Cli("jobs", "cancel", id.ToString(), "--json");
        Assert.True(cancel.Code == 0, cancel.Stderr);
        var c = w.WaitFor(id, Final, 120);
        Assert.True(State(c) == "cancelled", c.ToJsonString());
        Assert.True(c["result"]?["interrupted"]?.GetValue<bool>() == true, c.ToJsonString() + "\n" + Worker.Log(c) + "\nstdout:\n" + File.ReadAllText(Path.Combine(c["run"]!.GetValue<string>(), "stdout.log")));
        Assert.Equal(2, c["result"]!["world_size"]!.GetValue<int>());
        long reached = c["result"]!["steps"]!.GetValue<long>();
        Assert.InRange(reached, 10, 3999);
        Assert.Contains($"interrupted at step {reached}; checkpoint written", Worker.Log(c));
        Assert.Empty(JobProcesses(w.RunsRoot)); // no rank outlives its job
    }
}
