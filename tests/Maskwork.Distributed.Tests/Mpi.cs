using System.Diagnostics;
using System.Text.Json;
using Maskwork.Tests.Shared;

namespace Maskwork.Distributed.Tests;

/// <summary>The real `maskwork` executable, alone or under `mpirun` with real ranks.</summary>
public static class Mpi
{
    public static string RepoRoot => Repo.Root;

    public static string HostFolder => Repo.HostFolder;

    public sealed record Result(string Command, int ExitCode, string Stdout, string Stderr)
    {
        /// <summary>The JSON object on the last stdout line (rank 0 prints it; the other ranks print nothing).</summary>
        public JsonElement Json() => JsonDocument.Parse(Stdout.Split('\n').Select(l => l.Trim()).Select(l => l[Math.Max(0, l.IndexOf('{'))..]).Last(l => l.StartsWith('{'))).RootElement;

        public Result Ok()
        {
            Assert.True(ExitCode == 0, ToString());
            return this;
        }

        public override string ToString() => $"{Command}\nexit {ExitCode}\nstdout: {Tail(Stdout)}\nstderr: {Tail(Stderr)}";
        static string Tail(string s) => s.Length > 6000 ? "…" + s[^6000..] : s;
    }

    /// <summary>mpirun's arguments for <paramref name="ranks"/> ranks on this machine, one core each.</summary>
    public static string[] Launch(int ranks) =>
        ["--allow-run-as-root", "--oversubscribe", "-np", ranks.ToString(), "--bind-to", "none", "dotnet", Path.Combine(HostFolder, "maskwork.dll")];

    static ProcessStartInfo Info(bool mpi, int ranks, IEnumerable<string> args, IDictionary<string, string>? env, string? host = null)
    {
        string? mpirun = mpi ? FindMpirun() : null;
        var psi = new ProcessStartInfo(mpirun ?? "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = Path.GetTempPath() };
        foreach (var a in mpi ? Launch(ranks) : [Path.Combine(host ?? HostFolder, "maskwork.dll")]) psi.ArgumentList.Add(a);
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("OMPI_", StringComparison.Ordinal) || k.StartsWith("PMIX_", StringComparison.Ordinal)).ToList())
            psi.Environment.Remove(key); // a test run under mpirun itself must not pass its own rank on
        psi.Environment["MASKWORK_PLAIN_PROGRESS"] = "1";
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        return psi;
    }

    static string FindMpirun() =>
        new[] { "/usr/bin/mpirun", "/usr/local/bin/mpirun" }.FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException("mpirun is missing: install OpenMPI (apt-get install openmpi-bin libopenmpi-dev; ./test.sh does it)");

    public static Process Start(bool mpi, int ranks, IEnumerable<string> args, IDictionary<string, string>? env = null) => Process.Start(Info(mpi, ranks, args, env))!;

    /// <summary>Runs `mpirun -np <paramref name="ranks"/> maskwork ARGS` and waits.</summary>
    public static Result Ranks(int ranks, params string[] args) => Run(true, ranks, args, null);

    /// <summary>Runs `maskwork ARGS` in one process.</summary>
    public static Result Single(params string[] args) => Run(false, 1, args, null);

    public static Result Run(bool mpi, int ranks, IEnumerable<string> args, IDictionary<string, string>? env, string? host = null)
    {
        var psi = Info(mpi, ranks, args, env, host);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(4))) { p.Kill(true); throw new TimeoutException($"{psi.FileName} {string.Join(' ', psi.ArgumentList)}"); }
        return new Result($"{psi.FileName} {string.Join(' ', psi.ArgumentList)}", p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>The pid of the `maskwork` process of rank <paramref name="rank"/> whose command line holds <paramref name="marker"/>, or null.</summary>
    /// <summary>Every live process with "maskwork" in its command line and its MPI rank, for a failure message.</summary>
    public static string Describe() => string.Join("; ", Directory.EnumerateDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _)).Select(d =>
    {
        try
        {
            string cmd = File.ReadAllText(Path.Combine(d, "cmdline")).Replace('\0', ' ');
            if (!cmd.Contains("maskwork", StringComparison.OrdinalIgnoreCase)) return null;
            string rank = File.ReadAllText(Path.Combine(d, "environ")).Split('\0').FirstOrDefault(e => e.StartsWith("OMPI_COMM_WORLD_RANK=", StringComparison.Ordinal)) ?? "no rank";
            return $"{Path.GetFileName(d)} [{rank}] {cmd[..Math.Min(cmd.Length, 300)]}";
        }
        catch (Exception e) { return $"{Path.GetFileName(d)} {e.GetType().Name}"; }
    }).Where(x => x is not null));

    public static int? RankProcess(int rank, string marker)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            try
            {
                string cmd = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                if (!cmd.Contains("maskwork.dll", StringComparison.Ordinal) || !cmd.Contains(marker, StringComparison.Ordinal) || cmd.Contains("mpirun", StringComparison.Ordinal)) continue;
                string env = File.ReadAllText(Path.Combine(dir, "environ"));
                if (env.Split('\0').Contains($"OMPI_COMM_WORLD_RANK={rank}")) return pid;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // exited meanwhile
        }
        return null;
    }
}
