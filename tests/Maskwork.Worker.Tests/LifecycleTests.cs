using System.Text.Json.Nodes;

namespace Maskwork.Worker.Tests;

/// <summary>Cancel, a graceful stop of the worker, the concurrency limit and a job that always crashes, on one worker.</summary>
public sealed class LifecycleTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("mw-worker-life-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(dir, true); } catch (IOException) { }
    }

    static string State(JsonObject j) => j["state"]!.GetValue<string>();

    [Fact]
    public void Cancel_graceful_stop_limit_and_attempts()
    {
        using var w = new Worker(dir, concurrency: 1).Start();
        // Watch the whole queue throughout: never more running than the limit.
        int maxRunning = 0;
        using var watching = new CancellationTokenSource();
        var watcher = Task.Run(async () =>
        {
            while (!watching.IsCancellationRequested)
            {
                try { maxRunning = Math.Max(maxRunning, w.Jobs().Count(j => State(j!.AsObject()) == "running")); } catch (Exception) { }
                await Task.Delay(50);
            }
        });

        var submitted = w.Cli("jobs", "submit", "--recipe", "image/mae", "--data", "fashion-mnist", "--steps", "4000", "--seed", "1", "--name", "long",
            "--set", "train.batch=32", "--set", "train.checkpoint_every=10", "--set", "model.encoder_dim=32", "--set", "model.encoder_depth=1",
            "--set", "model.encoder_heads=2", "--set", "model.decoder_dim=16", "--set", "model.decoder_depth=1", "--set", "model.decoder_heads=2", "--json");
        Assert.True(submitted.Code == 0, submitted.Stderr);
        var created = Worker.LastJson(submitted.Stdout);
        Assert.Equal("queued", created["state"]!.GetValue<string>());
        long cancelled = created["id"]!.GetValue<long>();
        long stopped = w.Submit(Worker.TinyJob(40))["id"]!.GetValue<long>();
        var crashyJob = Worker.TinyJob(4000);
        crashyJob["name"] = "crashy";
        long crashy = w.Submit(crashyJob)["id"]!.GetValue<long>();

        // Cancel: SIGTERM, a checkpoint, cancelled.
        w.WaitFor(cancelled, j => State(j) == "running" && Worker.HasCheckpoint(j));
        Assert.Equal("queued", State(w.Job(stopped)));
        var cancel = w.Cli("jobs", "cancel", cancelled.ToString(), "--json");
        Assert.True(cancel.Code == 0, cancel.Stderr);
        var c = w.WaitFor(cancelled, j => JobFinal(j));
        Assert.Equal("cancelled", State(c));
        Assert.Equal(130, c["exit_code"]!.GetValue<int>());
        Assert.True(c["result"]!["interrupted"]!.GetValue<bool>());
        Assert.True(Worker.HasCheckpoint(c));
        Assert.True(c["result"]!["steps"]!.GetValue<long>() < 4000);

        // SIGTERM of the worker: the running job checkpoints and goes back to the queue without spending an attempt.
        w.WaitFor(stopped, j => State(j) == "running" && Worker.HasCheckpoint(j));
        Assert.Equal(0, w.Terminate());
        Assert.Contains("running jobs checkpointed and requeued", w.Output);
        w.Start();
        var s = w.WaitFor(stopped, j => JobFinal(j), 120);
        Assert.True(State(s) == "succeeded", s.ToJsonString());
        Assert.Equal(1, s["attempts"]!.GetValue<int>());
        Assert.Contains("attempt 1 of 3: maskwork resume", Worker.Log(s));
        Assert.Equal(40, s["result"]!["steps"]!.GetValue<long>());

        // A job whose process is killed every time (as by the OOM killer): retried, then failed with the reason.
        var seen = new HashSet<int>();
        var f = w.WaitFor(crashy, j =>
        {
            if (State(j) == "running" && j["pid"]?.GetValue<int>() is int pid && seen.Add(pid)) Worker.Signal(-pid, 9);
            return JobFinal(j);
        }, 120);
        Assert.Equal("failed", State(f));
        Assert.Equal(3, f["attempts"]!.GetValue<int>());
        Assert.Equal(3, seen.Count);
        Assert.Contains("SIGKILL", f["reason"]!.GetValue<string>());
        var list = w.Cli("jobs", "list");
        Assert.True(list.Code == 0, list.Stderr);
        Assert.Contains("SIGKILL", list.Stdout);

        watching.Cancel();
        watcher.Wait();
        Assert.Equal(1, maxRunning);
        string metrics = w.Http.GetStringAsync("metrics").Result;
        Assert.Contains("maskwork_jobs{state=\"failed\"} 1", metrics);
        Assert.Contains("maskwork_jobs{state=\"cancelled\"} 1", metrics);
        Assert.Contains("maskwork_jobs{state=\"succeeded\"} 1", metrics);
    }

    static bool JobFinal(JsonObject j) => State(j) is "succeeded" or "failed" or "cancelled";
}
