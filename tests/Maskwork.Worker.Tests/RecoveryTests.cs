using System.Text.Json.Nodes;

namespace Maskwork.Worker.Tests;

/// <summary>Faults of the worker itself: a SIGKILL, and a reboot (the job's process group dies too). Jobs resume exactly.</summary>
public sealed class RecoveryTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("mw-worker-recovery-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(dir, true); } catch (IOException) { }
    }

    [Fact]
    public void A_killed_worker_and_a_reboot_resume_their_jobs_to_the_uninterrupted_final_loss()
    {
        using var w = new Worker(dir);
        // The control run, straight to step 40, beside the worker's jobs.
        var control = Task.Run(() => w.Cli(Worker.TinyPretrainArgs(40, Path.Combine(dir, "control"))));
        w.Start();

        // 1. SIGKILL of the worker after the job's first checkpoint; its job's process lives on (stopped here, so that it is
        //    certainly still there when the worker comes back): the new worker ends it (a checkpoint) and resumes it.
        long killed = w.Submit(Worker.TinyJob(40))["id"]!.GetValue<long>();
        var job = w.WaitFor(killed, j => j["state"]!.GetValue<string>() == "running" && j["pid"] is not null && Worker.HasCheckpoint(j));
        int pid = job["pid"]!.GetValue<int>();
        w.Kill();
        Assert.Equal(0, Worker.Signal(-pid, 19)); // SIGSTOP the orphaned group: alive, not finished
        w.Start();
        var first = w.WaitFor(killed, j => j["state"]!.GetValue<string>() is "succeeded" or "failed", 120);
        Assert.True(first["state"]!.GetValue<string>() == "succeeded", first.ToJsonString());
        Assert.Contains("ending its leftover process group", w.Output);

        // 2. A reboot: the worker and the job's whole process group die at once.
        long rebooted = w.Submit(Worker.TinyJob(40))["id"]!.GetValue<long>();
        job = w.WaitFor(rebooted, j => j["state"]!.GetValue<string>() == "running" && j["pid"] is not null && Worker.HasCheckpoint(j));
        pid = job["pid"]!.GetValue<int>();
        w.Kill();
        Assert.Equal(0, Worker.Signal(-pid, 9));
        w.Start();
        var second = w.WaitFor(rebooted, j => j["state"]!.GetValue<string>() is "succeeded" or "failed", 120);
        Assert.True(second["state"]!.GetValue<string>() == "succeeded", second.ToJsonString());

        var (code, stdout, stderr) = control.Result;
        Assert.True(code == 0, stderr);
        double expected = Worker.LastJson(stdout)["final_loss"]!.GetValue<double>();
        foreach (var done in new[] { first, second })
        {
            // Two starts: pretrain, then resume from the checkpoint; the attempt a crash costs is counted.
            Assert.Equal(2, done["attempts"]!.GetValue<int>());
            string log = Worker.Log(done);
            Assert.Contains("attempt 1 of 3: maskwork pretrain", log);
            Assert.Contains("attempt 2 of 3: maskwork resume", log);
            var result = done["result"]!.AsObject();
            Assert.Equal(40, result["steps"]!.GetValue<long>());
            Assert.Equal(0, done["exit_code"]!.GetValue<int>());
            Assert.Equal(expected, result["final_loss"]!.GetValue<double>()); // exactly
        }
        // `jobs status ID --json`: the client of the same API.
        var status = w.Cli("jobs", "status", killed.ToString(), "--json");
        Assert.True(status.Code == 0, status.Stderr);
        var s = Worker.LastJson(status.Stdout);
        foreach (var key in new[] { "id", "state", "attempts", "run", "exit_code", "result" }) Assert.True(s.ContainsKey(key), key);
        Assert.Equal(expected, s["result"]!["final_loss"]!.GetValue<double>());
    }
}
