using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;
using Maskwork.Tests.Shared;

namespace Maskwork.Worker.Tests;

/// <summary>The real `maskwork` build, and a real `maskwork worker` process with its own runs root, database and port.</summary>
public sealed class Worker : IDisposable
{
    public static string RepoRoot => Repo.Root;
    public static string HostFolder => Repo.HostFolder;
    public static string Exe => Path.Combine(HostFolder, "maskwork.dll");

    /// <summary>A tiny image MAE on Fashion-MNIST: ~40 steps train in seconds on 2 cores.</summary>
    public static JsonObject TinyJob(int steps, int checkpointEvery = 10, long seed = 3) => new()
    {
        ["recipe"] = "image/mae", ["data"] = "fashion-mnist", ["seed"] = seed, ["steps"] = steps,
        ["train"] = new JsonObject { ["batch"] = 32, ["checkpoint_every"] = checkpointEvery, ["log_every"] = 1 },
        ["model"] = new JsonObject
        {
            ["encoder_dim"] = 32, ["encoder_depth"] = 1, ["encoder_heads"] = 2, ["decoder_dim"] = 16, ["decoder_depth"] = 1, ["decoder_heads"] = 2,
        },
    };

    /// <summary>The same job as <c>maskwork pretrain</c> arguments (the control run).</summary>
    public static string[] TinyPretrainArgs(int steps, string outDir, int checkpointEvery = 10, long seed = 3) =>
    [
        "pretrain", "--recipe", "image/mae", "--data", "fashion-mnist", "--seed", seed.ToString(), "--steps", steps.ToString(), "--out", outDir, "--json",
        "--set", "train.batch=32", "--set", $"train.checkpoint_every={checkpointEvery}", "--set", "train.log_every=1",
        "--set", "model.encoder_dim=32", "--set", "model.encoder_depth=1", "--set", "model.encoder_heads=2",
        "--set", "model.decoder_dim=16", "--set", "model.decoder_depth=1", "--set", "model.decoder_heads=2",
    ];

    readonly Dictionary<string, string> env;
    Process? process;
    readonly StringBuilder output = new();

    public Worker(string dir, string host = "127.0.0.1", int concurrency = 1, Dictionary<string, string>? settings = null)
    {
        Dir = dir;
        Port = FreePort();
        Url = $"http://{host}:{Port}";
        ClientUrl = $"http://127.0.0.1:{Port}";
        env = new()
        {
            ["Maskwork__RunsRoot"] = RunsRoot, ["Maskwork__Worker__Concurrency"] = concurrency.ToString(), ["Maskwork__Worker__GraceSeconds"] = "20",
            ["Maskwork__Worker__DataRoots__0"] = DataRoot, ["Maskwork__Worker__Url"] = ClientUrl,
        };
        foreach (var (k, v) in settings ?? []) env[k] = v;
        Directory.CreateDirectory(DataRoot);
        Http = new HttpClient { BaseAddress = new Uri(ClientUrl + "/"), Timeout = TimeSpan.FromSeconds(30) };
    }

    public string Dir { get; }
    public string RunsRoot => Path.Combine(Dir, "runs");
    public string DataRoot => Path.Combine(Dir, "data");
    public int Port { get; }
    public string Url { get; }
    public string ClientUrl { get; }
    public HttpClient Http { get; }
    public int Pid => process!.Id;
    public string Output { get { lock (output) return output.ToString(); } }

    /// <summary>Starts the worker (again) and waits for /healthz; <paramref name="wrapper"/> runs it under another program (the stand-in systemd).</summary>
    public Worker Start(string[]? wrapper = null, IDictionary<string, string>? extraEnv = null)
    {
        var psi = new ProcessStartInfo(wrapper?[0] ?? "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = Dir };
        foreach (var a in wrapper?.Skip(1) ?? []) psi.ArgumentList.Add(a);
        if (wrapper is not null) psi.ArgumentList.Add("dotnet");
        psi.ArgumentList.Add(Exe);
        psi.ArgumentList.Add("worker");
        psi.ArgumentList.Add("--urls");
        psi.ArgumentList.Add(Url);
        foreach (var (k, v) in env) psi.Environment[k] = v;
        foreach (var (k, v) in extraEnv ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        process = Process.Start(psi)!;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited) throw new InvalidOperationException($"the worker exited with {process.ExitCode}:\n{Output}");
            try { if (Http.GetAsync("healthz").Result.StatusCode == HttpStatusCode.OK) return this; }
            catch (AggregateException) { }
            Thread.Sleep(100);
        }
        throw new TimeoutException($"the worker did not answer /healthz:\n{Output}");
    }

    /// <summary>SIGKILL of the worker alone: its jobs' process groups live on.</summary>
    public void Kill()
    {
        kill(process!.Id, 9);
        Assert.True(process.WaitForExit(10_000), "the worker did not die");
        process.WaitForExit();
    }

    /// <summary>SIGTERM: the graceful stop; returns the exit code.</summary>
    public int Terminate(int seconds = 60)
    {
        kill(process!.Id, 15);
        Assert.True(process.WaitForExit(seconds * 1000), $"the worker did not stop within {seconds} s:\n{Output}");
        process.WaitForExit();
        return process.ExitCode;
    }

    public static int Signal(int pid, int signal) => kill(pid, signal);

    public JsonObject Submit(JsonObject body)
    {
        using var r = Http.PostAsJsonAsync("jobs", body).Result;
        string text = r.Content.ReadAsStringAsync().Result;
        Assert.True(r.StatusCode == HttpStatusCode.Created, $"{(int)r.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    public JsonObject Job(long id) => JsonNode.Parse(Http.GetStringAsync($"jobs/{id}").Result)!.AsObject();
    public JsonArray Jobs() => JsonNode.Parse(Http.GetStringAsync("jobs").Result)!.AsArray();

    /// <summary>Polls the job until <paramref name="until"/> holds; fails with the job and the worker's output after <paramref name="seconds"/>.</summary>
    public JsonObject WaitFor(long id, Func<JsonObject, bool> until, int seconds = 90, Action<JsonObject>? each = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        JsonObject job;
        do
        {
            job = Job(id);
            each?.Invoke(job);
            if (until(job)) return job;
            Thread.Sleep(100);
        } while (DateTime.UtcNow < deadline);
        throw new TimeoutException($"job {id} did not get there in {seconds} s: {job.ToJsonString()}\nworker:\n{Output}\nstderr.log:\n{Log(job)}");
    }

    public static string Log(JsonObject job)
    {
        string path = Path.Combine(job["run"]!.GetValue<string>(), "stderr.log");
        return File.Exists(path) ? File.ReadAllText(path) : "(none)";
    }

    /// <summary>True once the job's run folder holds a checkpoint.</summary>
    public static bool HasCheckpoint(JsonObject job) => File.Exists(Path.Combine(job["run"]!.GetValue<string>(), "checkpoints", "last.ckpt"));

    /// <summary>Runs the built `maskwork` with the worker's settings (the client verbs, the control run).</summary>
    public (int Code, string Stdout, string Stderr) Cli(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = Dir };
        psi.ArgumentList.Add(Exe);
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(180_000)) { p.Kill(true); throw new TimeoutException("maskwork " + string.Join(' ', args)); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    public static JsonObject LastJson(string stdout) => JsonNode.Parse(stdout.TrimEnd().Split('\n')[^1])!.AsObject();

    static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    public void Dispose()
    {
        Http.Dispose();
        if (process is { HasExited: false }) { kill(process.Id, 9); process.WaitForExit(10_000); }
        // Any job process the test left behind (their groups are their own).
        foreach (var pidDir in Directory.GetDirectories("/proc").Select(Path.GetFileName))
        {
            if (!int.TryParse(pidDir, out int pid)) continue;
            try
            {
                if (File.ReadAllText($"/proc/{pid}/cmdline").Contains(RunsRoot, StringComparison.Ordinal)) kill(-pid, 9);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        process?.Dispose();
    }

    [DllImport("libc", SetLastError = true)] static extern int kill(int pid, int signal);
}
