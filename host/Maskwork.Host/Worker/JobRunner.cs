using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Maskwork.Host.Runs;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Maskwork.Host.Worker;

/// <summary>
/// Runs queued jobs as child <c>maskwork pretrain|resume … --json</c> processes, at most
/// <see cref="WorkerOptions.Concurrency"/> at once, the cores split between them. On start it recovers the jobs a
/// crash, a kill or a reboot left "running"; on a graceful stop it checkpoints the running ones (SIGTERM to their
/// groups) and requeues them without spending an attempt.
/// </summary>
public sealed class JobRunner(JobStore store, WorkerOptions options, ILogger<JobRunner> log) : BackgroundService
{
    sealed class Child(Job job, int pid)
    {
        public Job Job { get; } = job;
        public int Pid { get; } = pid;
        public DateTime? TermSent { get; set; }
    }

    readonly ConcurrentDictionary<long, Child> running = new();
    readonly SemaphoreSlim wake = new(0);
    volatile bool stopping;

    /// <summary>Jobs running now (for /metrics and the concurrency check).</summary>
    public int RunningCount => running.Count;

    /// <summary>Wakes the loop (a job was queued or a cancel asked for).</summary>
    public void Poke() => wake.Release();

    /// <summary>What every child of this database carries in its environment: how a restarted worker proves a process is its own.</summary>
    public static string Marker(string instance, long id) => $"MASKWORK_WORKER_JOB={instance}:{id}";

    protected override async Task ExecuteAsync(CancellationToken ct)
    {
        await Task.Yield();
        Recover();
        while (!ct.IsCancellationRequested)
        {
            try
            {
                Reap();
                Cancels();
                while (!stopping && running.Count < options.Concurrency && store.Claim() is { } job) Start(job);
            }
            catch (Exception e) when (e is not OperationCanceledException) { log.LogError(e, "worker loop"); }
            try { await wake.WaitAsync(TimeSpan.FromMilliseconds(250), ct); }
            catch (OperationCanceledException) { break; }
        }
    }

    public override async Task StopAsync(CancellationToken ct)
    {
        stopping = true;
        await base.StopAsync(ct);
        // Checkpoint and requeue every running job: SIGTERM to each group, SIGKILL after the grace period.
        foreach (var child in running.Values) { ChildProcess.TerminateSession(child.Pid, leader: child.Job.Ranks == 1); child.TermSent = DateTime.UtcNow; }
        var deadline = DateTime.UtcNow.AddSeconds(options.GraceSeconds);
        while (!running.IsEmpty && DateTime.UtcNow < deadline) { Reap(); await Task.Delay(100, CancellationToken.None); }
        foreach (var child in running.Values) ChildProcess.SignalSession(child.Pid, ChildProcess.SIGKILL);
        for (int i = 0; i < 50 && !running.IsEmpty; i++) { Reap(); await Task.Delay(100, CancellationToken.None); }
        log.LogInformation("worker stopped; running jobs checkpointed and requeued");
    }

    /// <summary>Jobs left "running" by a worker that did not stop cleanly: end their processes if still alive, then requeue or settle them.</summary>
    void Recover()
    {
        foreach (var job in store.List(JobStates.Running))
        {
            if (job.Pid is { } pid && job.PidStart is { } start && job.BootId is { } boot)
            {
                var identity = new ProcessIdentity(pid, start, boot);
                if (job.Instance == store.Instance && ChildProcess.IsSame(identity, Marker(store.Instance, job.Id)))
                {
                    log.LogWarning("job {Id}: ending its leftover process group {Pid} (checkpoint, then requeue)", job.Id, pid);
                    ChildProcess.TerminateSession(pid, leader: job.Ranks == 1);
                    var deadline = DateTime.UtcNow.AddSeconds(options.GraceSeconds);
                    while (ChildProcess.IsSame(identity, Marker(store.Instance, job.Id)) && DateTime.UtcNow < deadline) Thread.Sleep(100);
                    ChildProcess.SignalSession(pid, ChildProcess.SIGKILL);
                }
            }
            var result = LastResult(job);
            if (result is not null && result["interrupted"]?.GetValue<bool>() == false && (result["steps"]?.GetValue<long>() ?? 0) >= job.Steps)
                store.Finish(job.Id, JobStates.Succeeded, 0, null, result.ToJsonString()); // it finished while the worker was down
            else if (job.CancelRequested)
                store.Finish(job.Id, JobStates.Cancelled, null, "cancelled", result?.ToJsonString());
            else if (job.Attempts >= job.MaxAttempts)
                store.Finish(job.Id, JobStates.Failed, null, $"the worker was lost during each of its {job.Attempts} attempts (crash, kill or reboot)", null);
            else
                store.Requeue(job.Id, "requeued after the worker stopped unexpectedly (crash, kill or reboot)", null, refund: false);
        }
    }

    void Start(Job job)
    {
        var run = new RunFolder(job.Run);
        try
        {
            Directory.CreateDirectory(run.Path);
            bool resume = File.Exists(run.Config) && run.NewestCheckpoint() is not null;
            if (!resume)
                foreach (var partial in new[] { run.Config, run.Status, run.ProgressLog, run.Metrics }) File.Delete(partial); // an attempt that died before its first checkpoint
            string jobFile = JobFile(run);
            if (!File.Exists(jobFile)) File.WriteAllText(jobFile, job.Request);
            string steps = job.Steps.ToString(System.Globalization.CultureInfo.InvariantCulture);
            List<string> args = resume
                ? ["resume", "--run", run.Path, "--steps", steps, "--json"]
                : ["pretrain", "--config", jobFile, "--out", run.Path, "--steps", steps, "--json"];
            var (file, prefix) = Self();
            string launch = "maskwork";
            if (job.Ranks > 1)
            {
                // mpirun starts the ranks (their OpenMPI environment makes each pretrain data-parallel); they share the job's cores.
                string mpirun = MpiLaunch.Find() ?? throw new IOException($"the job asks for {job.Ranks} ranks and mpirun is missing: apt-get install openmpi-bin libopenmpi-dev");
                prefix = [.. MpiLaunch.Arguments(job.Ranks), file, .. prefix];
                file = mpirun;
                launch = $"mpirun -np {job.Ranks} maskwork";
            }
            var env = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>().ToDictionary(e => (string)e.Key, e => (string?)e.Value ?? "");
            env["Maskwork__Threads"] = Math.Max(1, Environment.ProcessorCount / options.Concurrency / job.Ranks).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var marker = Marker(store.Instance, job.Id).Split('=', 2);
            env[marker[0]] = marker[1];
            foreach (var key in env.Keys.Where(k => k.StartsWith("NOTIFY_SOCKET", StringComparison.Ordinal) || k.StartsWith("LISTEN_", StringComparison.Ordinal)).ToList()) env.Remove(key);
            File.AppendAllText(Stderr(run), $"--- worker: attempt {job.Attempts} of {job.MaxAttempts}: {launch} {string.Join(' ', args)}\n");
            int pid = ChildProcess.Spawn(file, [.. prefix, .. args], env, Stdout(run), Stderr(run));
            running[job.Id] = new Child(job, pid);
            if (ChildProcess.Identify(pid) is { } identity) store.Started(job.Id, identity);
            log.LogInformation("job {Id}: started {Verb} as pid {Pid} (attempt {Attempt})", job.Id, args[0], pid, job.Attempts);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            store.Finish(job.Id, JobStates.Failed, null, $"could not start: {e.Message}", null);
        }
    }

    /// <summary>Settles every child that has ended.</summary>
    void Reap()
    {
        foreach (var child in running.Values)
        {
            if (!ChildProcess.TryReap(child.Pid, out var exit)) continue;
            try { Settle(store.Get(child.Job.Id) ?? child.Job, exit); }
            finally { running.TryRemove(child.Job.Id, out _); }
        }
    }

    void Settle(Job job, ChildExit exit)
    {
        var result = LastResult(job);
        string? resultJson = result?.ToJsonString();
        bool retriesLeft = job.Attempts < job.MaxAttempts;
        log.LogInformation("job {Id}: {Exit}", job.Id, exit);
        switch (exit)
        {
            case { Code: 0 }:
                store.Finish(job.Id, JobStates.Succeeded, 0, null, resultJson);
                break;
            case var _ when job.CancelRequested:
                store.Finish(job.Id, JobStates.Cancelled, exit.Code, $"cancelled ({exit})", resultJson);
                break;
            case var _ when stopping:
                store.Requeue(job.Id, "requeued: the worker was stopped; resumes from its checkpoint", exit.Code, refund: true);
                break;
            case { Code: 1 or 2 }:
                store.Finish(job.Id, JobStates.Failed, exit.Code, LastError(job) ?? exit.ToString(), resultJson);
                break;
            case var _ when retriesLeft:
                store.Requeue(job.Id, $"attempt {job.Attempts} {(exit.Code == 130 ? "was interrupted" : exit.ToString())}; requeued", exit.Code, refund: false);
                break;
            default:
                store.Finish(job.Id, JobStates.Failed, exit.Code, $"{(exit.Code == 130 ? "interrupted" : exit.ToString())} on each of its {job.Attempts} attempts", resultJson);
                break;
        }
    }

    /// <summary>Cancels asked for through the API: SIGTERM (a checkpoint), then SIGKILL after the grace period.</summary>
    void Cancels()
    {
        foreach (var child in running.Values)
        {
            if (child.TermSent is { } sent)
            {
                if ((DateTime.UtcNow - sent).TotalSeconds > options.GraceSeconds) ChildProcess.SignalSession(child.Pid, ChildProcess.SIGKILL);
                continue;
            }
            if (store.Get(child.Job.Id) is { CancelRequested: true })
            {
                log.LogInformation("job {Id}: cancelling (SIGTERM to session {Pid})", child.Job.Id, child.Pid);
                ChildProcess.TerminateSession(child.Pid, leader: child.Job.Ranks == 1);
                child.TermSent = DateTime.UtcNow;
            }
        }
    }

    /// <summary>How to start this same maskwork: the apphost, or <c>dotnet maskwork.dll</c>.</summary>
    static (string File, string[] Prefix) Self()
    {
        string process = Environment.ProcessPath ?? "dotnet";
        return Path.GetFileNameWithoutExtension(process) == "dotnet" ? (process, [typeof(JobRunner).Assembly.Location]) : (process, []);
    }

    public static string JobFile(RunFolder run) => Path.Combine(run.Path, "job.json");
    public static string Stdout(RunFolder run) => Path.Combine(run.Path, "stdout.log");
    public static string Stderr(RunFolder run) => Path.Combine(run.Path, "stderr.log");

    /// <summary>The last --json result the job's process printed (each attempt appends one).</summary>
    public static JsonObject? LastResult(Job job)
    {
        string path = Stdout(new RunFolder(job.Run));
        if (!File.Exists(path)) return null;
        foreach (var raw in File.ReadLines(path).Reverse())
        {
            int brace = raw.IndexOf('{');
            if (brace < 0) continue;
            string line = raw[brace..]; // under mpirun a rank's line may start with terminal escapes
            try { if (JsonNode.Parse(line) is JsonObject o) return o; } catch (System.Text.Json.JsonException) { }
        }
        return null;
    }

    /// <summary>The one-line reason a failed child printed (<c>maskwork pretrain: …</c>).</summary>
    static string? LastError(Job job)
    {
        string path = Stderr(new RunFolder(job.Run));
        if (!File.Exists(path)) return null;
        return File.ReadLines(path).LastOrDefault(l => l.StartsWith("maskwork ", StringComparison.Ordinal));
    }
}
