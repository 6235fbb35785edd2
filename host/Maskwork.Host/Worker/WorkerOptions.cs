using System.ComponentModel.DataAnnotations;

namespace Maskwork.Host.Worker;

/// <summary>Settings of <c>maskwork worker</c> and its client: section "Maskwork:Worker" (MASKWORK__WORKER__* in the environment).</summary>
public sealed class WorkerOptions
{
    public const string DefaultUrl = "http://127.0.0.1:8765";

    /// <summary>Where the worker listens (<c>--urls</c> wins) and where <c>maskwork jobs</c> finds it (<c>--server</c> wins).</summary>
    public string Url { get; set; } = DefaultUrl;

    /// <summary>The queue database (default <c>&lt;runs root&gt;/worker.db</c>).</summary>
    public string? Database { get; set; }

    /// <summary>The bearer token's file (default <c>&lt;runs root&gt;/.worker-token</c>; created with mode 0600 on first start).</summary>
    public string? TokenFile { get; set; }

    /// <summary>Folders a job's data may come from (default: $MASKWORK_DATA, /usr/share/datasets, &lt;runs root&gt;/../data).</summary>
    public List<string> DataRoots { get; set; } = [];

    /// <summary>Jobs running at once; the cores are split between them.</summary>
    [Range(1, 256)]
    public int Concurrency { get; set; } = 1;

    /// <summary>The most data-parallel ranks one job may ask for (each rank gets an equal share of the job's cores).</summary>
    [Range(1, 256)]
    public int MaxRanks { get; set; } = Math.Max(1, Environment.ProcessorCount);

    /// <summary>Starts a job gets before a crash (a kill by a signal) fails it for good.</summary>
    [Range(1, 100)]
    public int MaxAttempts { get; set; } = 3;

    /// <summary>After SIGTERM (cancel, shutdown), how long a job has to write its checkpoint before SIGKILL.</summary>
    [Range(1, 3600)]
    public int GraceSeconds { get; set; } = 30;

    /// <summary>The largest <c>POST /jobs</c> body.</summary>
    [Range(1024, 16 << 20)]
    public int MaxBodyBytes { get; set; } = 64 << 10;

    /// <summary>/readyz fails when the runs root's disk has less free space.</summary>
    [Range(0, long.MaxValue)]
    public long MinFreeDiskMb { get; set; } = 512;

    public string DatabasePath(string runsRoot) => Path.GetFullPath(Database ?? Path.Combine(runsRoot, "worker.db"));
    public string TokenPath(string runsRoot) => Path.GetFullPath(TokenFile ?? Path.Combine(runsRoot, ".worker-token"));

    public IReadOnlyList<string> Roots(string runsRoot)
    {
        if (DataRoots.Count > 0) return DataRoots;
        var roots = new List<string>();
        if (Environment.GetEnvironmentVariable("MASKWORK_DATA") is { Length: > 0 } env) roots.Add(env);
        roots.Add("/usr/share/datasets");
        roots.Add(Path.Combine(Path.GetFullPath(runsRoot), "..", "data"));
        return roots;
    }
}
