using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;

namespace Maskwork.Host.Worker;

/// <summary>A job's row: its request, where it runs, how it stands, and who runs it (to recognise the process after a restart).</summary>
public sealed record Job
{
    public long Id { get; init; }
    public string Name { get; init; } = "";
    public string Recipe { get; init; } = "";
    /// <summary>The job file as <c>pretrain --config</c> reads it (no steps, name or priority).</summary>
    public string Request { get; init; } = "{}";
    public int Steps { get; init; }
    public int Priority { get; init; }
    /// <summary>Data-parallel ranks (1: one process; more: under mpirun).</summary>
    public int Ranks { get; init; } = 1;
    public string Run { get; init; } = "";
    public string State { get; init; } = JobStates.Queued;
    public int Attempts { get; init; }
    public int MaxAttempts { get; init; }
    public int? ExitCode { get; init; }
    public string? Reason { get; init; }
    public string? Result { get; init; }
    public bool CancelRequested { get; init; }
    public int? Pid { get; init; }
    public long? PidStart { get; init; }
    public string? BootId { get; init; }
    public string? Instance { get; init; }
    public DateTime Created { get; init; }
    public DateTime? Started { get; init; }
    public DateTime? Finished { get; init; }
}

public static class JobStates
{
    public const string Queued = "queued", Running = "running", Succeeded = "succeeded", Failed = "failed", Cancelled = "cancelled";
    public static readonly string[] All = [Queued, Running, Succeeded, Failed, Cancelled];
    public static bool IsFinal(string state) => state is Succeeded or Failed or Cancelled;
}

/// <summary>
/// The queue: one SQLite file in WAL mode with synchronous=FULL (a committed state change survives a power cut)
/// and a busy timeout; a job is claimed inside BEGIN IMMEDIATE, so two workers on one database never take the same job.
/// </summary>
public sealed class JobStore
{
    readonly string connectionString;

    public JobStore(string path)
    {
        Path = path;
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        connectionString = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, DefaultTimeout = 30 }.ToString();
        using var c = Open();
        Exec(c, "PRAGMA journal_mode=WAL;");
        Exec(c, """
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS jobs (
              id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, recipe TEXT NOT NULL, request TEXT NOT NULL,
              steps INTEGER NOT NULL, priority INTEGER NOT NULL DEFAULT 0, run TEXT NOT NULL DEFAULT '',
              state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL,
              exit_code INTEGER, reason TEXT, result TEXT, cancel_requested INTEGER NOT NULL DEFAULT 0,
              pid INTEGER, pid_start INTEGER, boot_id TEXT, instance TEXT,
              created TEXT NOT NULL, started TEXT, finished TEXT, updated TEXT NOT NULL, ranks INTEGER NOT NULL DEFAULT 1);
            CREATE INDEX IF NOT EXISTS jobs_queue ON jobs (state, priority DESC, id);
            INSERT OR IGNORE INTO meta (key, value) VALUES ('instance', lower(hex(randomblob(8))));
            """);
        // A queue made before jobs could ask for ranks gains the column; its jobs keep running on one rank.
        if ((long)Scalar(c, "SELECT COUNT(*) FROM pragma_table_info('jobs') WHERE name = 'ranks'")! == 0)
            Exec(c, "ALTER TABLE jobs ADD COLUMN ranks INTEGER NOT NULL DEFAULT 1");
        Instance = (string)Scalar(c, "SELECT value FROM meta WHERE key = 'instance'")!;
    }

    public string Path { get; }

    /// <summary>This database's worker identity: part of the marker every child carries in its environment.</summary>
    public string Instance { get; }

    SqliteConnection Open()
    {
        var c = new SqliteConnection(connectionString);
        c.Open();
        Exec(c, "PRAGMA synchronous=FULL; PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON;");
        return c;
    }

    static string Now() => DateTime.UtcNow.ToString("O");

    /// <summary>Queues a job; <paramref name="runFor"/> names its run folder from its id.</summary>
    public Job Add(string name, string recipe, JsonObject request, int steps, int priority, int maxAttempts, Func<long, string> runFor, int ranks = 1)
    {
        using var c = Open();
        using var t = c.BeginTransaction(deferred: false);
        long id = (long)Scalar(c, """
            INSERT INTO jobs (name, recipe, request, steps, priority, state, max_attempts, created, updated, ranks)
            VALUES ($name, $recipe, $request, $steps, $priority, 'queued', $max, $now, $now, $ranks) RETURNING id
            """, t, ("$name", name), ("$recipe", recipe), ("$request", request.ToJsonString()), ("$steps", steps), ("$priority", priority), ("$max", maxAttempts), ("$now", Now()), ("$ranks", ranks))!;
        Exec(c, "UPDATE jobs SET run = $run WHERE id = $id", t, ("$run", runFor(id)), ("$id", id));
        t.Commit();
        return Get(id)!;
    }

    public Job? Get(long id)
    {
        using var c = Open();
        return Query(c, "SELECT * FROM jobs WHERE id = $id", null, ("$id", id)).FirstOrDefault();
    }

    public List<Job> List(string? state = null)
    {
        using var c = Open();
        return state is null ? Query(c, "SELECT * FROM jobs ORDER BY id", null) : Query(c, "SELECT * FROM jobs WHERE state = $s ORDER BY id", null, ("$s", state));
    }

    public Dictionary<string, long> CountByState()
    {
        using var c = Open();
        var counts = JobStates.All.ToDictionary(s => s, _ => 0L);
        using var cmd = Command(c, "SELECT state, count(*) FROM jobs GROUP BY state", null);
        using var r = cmd.ExecuteReader();
        while (r.Read()) counts[r.GetString(0)] = r.GetInt64(1);
        return counts;
    }

    /// <summary>Takes the next queued job (highest priority, then oldest) and marks it running: one attempt spent.</summary>
    public Job? Claim()
    {
        using var c = Open();
        using var t = c.BeginTransaction(deferred: false); // BEGIN IMMEDIATE: the write lock before the read
        var next = Query(c, "SELECT * FROM jobs WHERE state = 'queued' ORDER BY priority DESC, id LIMIT 1", t).FirstOrDefault();
        if (next is null) return null;
        Exec(c, """
            UPDATE jobs SET state = 'running', attempts = attempts + 1, pid = NULL, pid_start = NULL, boot_id = NULL,
              instance = $instance, started = $now, updated = $now WHERE id = $id
            """, t, ("$instance", Instance), ("$now", Now()), ("$id", next.Id));
        t.Commit();
        return Get(next.Id);
    }

    /// <summary>Records the process running a claimed job.</summary>
    public void Started(long id, ProcessIdentity process) => Update(id,
        "pid = $pid, pid_start = $start, boot_id = $boot", ("$pid", process.Pid), ("$start", process.StartTicks), ("$boot", process.BootId));

    /// <summary>Back to the queue; <paramref name="refund"/> gives the attempt back (a graceful shutdown is not the job's fault).</summary>
    public void Requeue(long id, string reason, int? exitCode, bool refund) => Update(id,
        "state = 'queued', pid = NULL, pid_start = NULL, boot_id = NULL, reason = $reason, exit_code = $code" + (refund ? ", attempts = max(0, attempts - 1)" : ""),
        ("$reason", reason), ("$code", exitCode));

    /// <summary>A final state, with the exit code, the reason and the job's result JSON where there is one.</summary>
    public void Finish(long id, string state, int? exitCode, string? reason, string? result) => Update(id,
        "state = $state, exit_code = $code, reason = $reason, result = coalesce($result, result), pid = NULL, finished = $now",
        ("$state", state), ("$code", exitCode), ("$reason", reason), ("$result", result)); // $now: Update's

    /// <summary>Asks for a cancel: a queued job is cancelled at once (true); a running one is flagged for the runner. False when already final.</summary>
    public Job? RequestCancel(long id)
    {
        using var c = Open();
        using var t = c.BeginTransaction(deferred: false);
        var job = Query(c, "SELECT * FROM jobs WHERE id = $id", t, ("$id", id)).FirstOrDefault();
        if (job is null) return null;
        if (job.State == JobStates.Queued)
            Exec(c, "UPDATE jobs SET state = 'cancelled', cancel_requested = 1, reason = 'cancelled before it started', finished = $now, updated = $now WHERE id = $id", t, ("$now", Now()), ("$id", id));
        else if (job.State == JobStates.Running)
            Exec(c, "UPDATE jobs SET cancel_requested = 1, updated = $now WHERE id = $id", t, ("$now", Now()), ("$id", id));
        t.Commit();
        return Get(id);
    }

    /// <summary>A write the database must accept for the worker to be ready (the /readyz check).</summary>
    public void Touch()
    {
        using var c = Open();
        using var t = c.BeginTransaction(deferred: false);
        Exec(c, "INSERT INTO meta (key, value) VALUES ('ready_check', $now) ON CONFLICT (key) DO UPDATE SET value = excluded.value", t, ("$now", Now()));
        t.Commit();
    }

    void Update(long id, string set, params (string, object?)[] values)
    {
        using var c = Open();
        Exec(c, $"UPDATE jobs SET {set}, updated = $now WHERE id = $id", null, [.. values, ("$now", Now()), ("$id", id)]);
    }

    static SqliteCommand Command(SqliteConnection c, string sql, SqliteTransaction? t, params (string, object?)[] values)
    {
        var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = t;
        foreach (var (name, value) in values) cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return cmd;
    }

    static void Exec(SqliteConnection c, string sql, SqliteTransaction? t = null, params (string, object?)[] values)
    {
        using var cmd = Command(c, sql, t, values);
        cmd.ExecuteNonQuery();
    }

    static object? Scalar(SqliteConnection c, string sql, SqliteTransaction? t = null, params (string, object?)[] values)
    {
        using var cmd = Command(c, sql, t, values);
        return cmd.ExecuteScalar();
    }

    static List<Job> Query(SqliteConnection c, string sql, SqliteTransaction? t, params (string, object?)[] values)
    {
        using var cmd = Command(c, sql, t, values);
        using var r = cmd.ExecuteReader();
        var jobs = new List<Job>();
        string? S(string col) => r[col] is string s ? s : null;
        long? L(string col) => r[col] is long v ? v : null;
        DateTime? D(string col) => S(col) is { } s ? DateTime.Parse(s, null, System.Globalization.DateTimeStyles.RoundtripKind) : null;
        while (r.Read())
            jobs.Add(new Job
            {
                Id = (long)r["id"], Name = (string)r["name"], Recipe = (string)r["recipe"], Request = (string)r["request"], Steps = (int)(long)r["steps"],
                Priority = (int)(long)r["priority"], Ranks = (int)(long)r["ranks"], Run = (string)r["run"], State = (string)r["state"], Attempts = (int)(long)r["attempts"],
                MaxAttempts = (int)(long)r["max_attempts"], ExitCode = (int?)L("exit_code"), Reason = S("reason"), Result = S("result"),
                CancelRequested = (long)r["cancel_requested"] != 0, Pid = (int?)L("pid"), PidStart = L("pid_start"), BootId = S("boot_id"),
                Instance = S("instance"), Created = D("created")!.Value, Started = D("started"), Finished = D("finished"),
            });
        return jobs;
    }
}
