using System.Runtime.InteropServices;

namespace Maskwork.Host.Worker;

/// <summary>How the worker starts a job that asks for N ranks: OpenMPI's mpirun on this machine (DESIGN.md section 11).</summary>
public static class MpiLaunch
{
    /// <summary>mpirun on PATH (or in /usr/bin), or null when OpenMPI is not installed.</summary>
    public static string? Find()
    {
        var folders = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Append("/usr/bin");
        return folders.Select(f => Path.Combine(f, "mpirun")).FirstOrDefault(File.Exists);
    }

    /// <summary>
    /// mpirun's options before the program: N local ranks, unbound (the job's threads are split between them). The worker
    /// stops such a job by signalling the ranks, not mpirun (<see cref="ChildProcess.TerminateSession"/>).
    /// </summary>
    public static string[] Arguments(int ranks) =>
    [
        .. geteuid() == 0 ? ["--allow-run-as-root"] : Array.Empty<string>(),
        "--oversubscribe", "-np", ranks.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind-to", "none",
    ];

    [DllImport("libc")] static extern uint geteuid();
}
