using System.Runtime.InteropServices;

namespace Maskwork.Host.Worker;

/// <summary>How a child ended: its exit code, or the signal that killed it.</summary>
public readonly record struct ChildExit(int? Code, int? Signal)
{
    public override string ToString() => Signal is { } s ? $"killed by signal {s} ({ChildProcess.SignalName(s)})" : $"exit code {Code}";
}

/// <summary>
/// A process that can be recognised after the worker restarts: its pid, its start time in clock ticks since boot
/// (/proc/PID/stat field 22: a reused pid has another) and the boot it ran in (a reboot ends every process).
/// </summary>
public readonly record struct ProcessIdentity(int Pid, long StartTicks, string BootId);

/// <summary>
/// Child processes started with posix_spawn, never through a shell: each in its own session and process group (so a signal to
/// the session reaches everything it started), stdin from /dev/null, stdout and stderr appended to files (so a child
/// outlives a worker crash without a broken pipe), signal dispositions reset to their defaults.
/// </summary>
public static class ChildProcess
{
    public const int SIGKILL = 9, SIGTERM = 15, SIGCONT = 18;

    /// <summary>Starts <paramref name="file"/> with <paramref name="args"/> (argv[1..]) and the environment given.</summary>
    public static int Spawn(string file, IReadOnlyList<string> args, IReadOnlyDictionary<string, string> environment, string stdoutPath, string stderrPath)
    {
        var pointers = new List<IntPtr>();
        IntPtr Utf8(string s) { var p = Marshal.StringToCoTaskMemUTF8(s); pointers.Add(p); return p; }
        IntPtr[] argv = [Utf8(file), .. args.Select(Utf8), IntPtr.Zero];
        IntPtr[] envp = [.. environment.Select(kv => Utf8($"{kv.Key}={kv.Value}")), IntPtr.Zero];
        // glibc's posix_spawn_file_actions_t is 80 bytes and posix_spawnattr_t 336, sigset_t 128: generous buffers.
        IntPtr actions = Marshal.AllocHGlobal(1024), attr = Marshal.AllocHGlobal(1024), defaults = Marshal.AllocHGlobal(256), mask = Marshal.AllocHGlobal(256);
        try
        {
            Check(posix_spawn_file_actions_init(actions), "posix_spawn_file_actions_init");
            Check(posix_spawnattr_init(attr), "posix_spawnattr_init");
            try
            {
                const int O_RDONLY = 0, O_WRONLY = 1, O_CREAT = 0x40, O_APPEND = 0x400;
                Check(posix_spawn_file_actions_addopen(actions, 0, Utf8("/dev/null"), O_RDONLY, 0), "addopen stdin");
                Check(posix_spawn_file_actions_addopen(actions, 1, Utf8(stdoutPath), O_WRONLY | O_CREAT | O_APPEND, 0x1A4), "addopen stdout");
                Check(posix_spawn_file_actions_addopen(actions, 2, Utf8(stderrPath), O_WRONLY | O_CREAT | O_APPEND, 0x1A4), "addopen stderr");
                // A new session (glibc's POSIX_SPAWN_SETSID), so a new process group whose id is the child's pid. Not only a new
                // group: a group in the worker's session would become orphaned when the worker dies, and the kernel then sends
                // SIGHUP to it if any member is stopped; in its own session a job outlives its worker untouched.
                const short SETSIGDEF = 0x04, SETSIGMASK = 0x08, SETSID = 0x80;
                Check(posix_spawnattr_setflags(attr, SETSID | SETSIGDEF | SETSIGMASK), "setflags");
                sigfillset(defaults);
                Check(posix_spawnattr_setsigdefault(attr, defaults), "setsigdefault"); // the runtime ignores SIGPIPE; the child starts clean
                sigemptyset(mask);
                Check(posix_spawnattr_setsigmask(attr, mask), "setsigmask");
                Check(posix_spawn(out int pid, argv[0], actions, attr, argv, envp), $"posix_spawn {file}");
                return pid;
            }
            finally
            {
                posix_spawn_file_actions_destroy(actions);
                posix_spawnattr_destroy(attr);
            }
        }
        finally
        {
            foreach (var p in pointers) Marshal.FreeCoTaskMem(p);
            Marshal.FreeHGlobal(actions); Marshal.FreeHGlobal(attr); Marshal.FreeHGlobal(defaults); Marshal.FreeHGlobal(mask);
        }
    }

    /// <summary>Reaps a child of this process if it has ended (never blocks).</summary>
    public static bool TryReap(int pid, out ChildExit exit)
    {
        exit = default;
        int r = waitpid(pid, out int status, 1 /* WNOHANG */);
        if (r == 0) return false;
        if (r < 0) { exit = new ChildExit(null, null); return true; } // not ours any more (ECHILD): treat as gone
        int sig = status & 0x7f;
        exit = sig == 0 ? new ChildExit((status >> 8) & 0xff, null) : new ChildExit(null, sig);
        return true;
    }

    /// <summary>
    /// Sends <paramref name="signal"/> to everything in the session a child leads (its id is the child's pid): its own process
    /// group and any group it made — mpirun puts each rank in a group of its own, so a signal to mpirun's group alone would
    /// leave the ranks running after a SIGKILL. False when none is left.
    /// </summary>
    public static bool SignalSession(int sid, int signal) => SignalSession(sid, signal, leader: true);

    /// <summary>As <see cref="SignalSession(int, int)"/>; without <paramref name="leader"/>, only the groups the child made.</summary>
    public static bool SignalSession(int sid, int signal, bool leader)
    {
        if (sid <= 1) return false;
        bool any = leader && kill(-sid, signal) == 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid) || pid == sid) continue;
            try
            {
                var fields = StatFields(pid); // state ppid pgrp session …
                if (int.Parse(fields[3], System.Globalization.CultureInfo.InvariantCulture) == sid && int.Parse(fields[2], System.Globalization.CultureInfo.InvariantCulture) != sid)
                    any |= kill(pid, signal) == 0;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException) { } // exited meanwhile
        }
        return any;
    }

    /// <summary>
    /// SIGTERM, then SIGCONT (as systemd does), to the child's session: a stopped process must run to act on it. Without
    /// <paramref name="leader"/> the child itself is spared — mpirun answers SIGTERM by killing its ranks on a timer,
    /// while the ranks themselves, signalled directly, agree on a step, checkpoint and exit, and mpirun with them.
    /// </summary>
    public static void TerminateSession(int sid, bool leader = true)
    {
        SignalSession(sid, SIGTERM, leader);
        SignalSession(sid, SIGCONT, leader);
    }

    /// <summary>The identity of a live process, or null when there is none (or only a zombie).</summary>
    public static ProcessIdentity? Identify(int pid)
    {
        try
        {
            var fields = StatFields(pid);
            if (fields[0] is "Z" or "X") return null;
            return new ProcessIdentity(pid, long.Parse(fields[19], System.Globalization.CultureInfo.InvariantCulture), BootId);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException) { return null; }
    }

    /// <summary>/proc/PID/stat's fields after the command name (state first), which is in parentheses and may itself hold spaces or parentheses.</summary>
    static string[] StatFields(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    }

    /// <summary>True when a live process has the identity recorded and carries <paramref name="marker"/> in its environment.</summary>
    public static bool IsSame(ProcessIdentity recorded, string marker)
    {
        if (recorded.BootId != BootId || Identify(recorded.Pid) is not { } now || now.StartTicks != recorded.StartTicks) return false;
        try { return File.ReadAllText($"/proc/{recorded.Pid}/environ").Split('\0').Contains(marker); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    /// <summary>This boot's id (a reboot changes it).</summary>
    public static string BootId { get; } = ReadBootId();

    static string ReadBootId()
    {
        try { return File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim(); }
        catch (IOException) { return "unknown"; }
    }

    /// <summary>The canonical path (every symlink and <c>..</c> resolved), or null when it does not exist.</summary>
    public static string? RealPath(string path)
    {
        IntPtr p = realpath(path, IntPtr.Zero);
        if (p == IntPtr.Zero) return null;
        try { return Marshal.PtrToStringUTF8(p); }
        finally { free(p); }
    }

    public static string SignalName(int signal) => signal switch
    {
        1 => "SIGHUP", 2 => "SIGINT", 6 => "SIGABRT", 9 => "SIGKILL", 11 => "SIGSEGV", 15 => "SIGTERM", _ => $"signal {signal}",
    };

    static void Check(int rc, string what)
    {
        if (rc != 0) throw new IOException($"{what} failed: {Marshal.GetPInvokeErrorMessage(rc)}");
    }

    [DllImport("libc", SetLastError = true)] static extern int posix_spawn(out int pid, IntPtr path, IntPtr fileActions, IntPtr attr, IntPtr[] argv, IntPtr[] envp);
    [DllImport("libc")] static extern int posix_spawn_file_actions_init(IntPtr actions);
    [DllImport("libc")] static extern int posix_spawn_file_actions_destroy(IntPtr actions);
    [DllImport("libc")] static extern int posix_spawn_file_actions_addopen(IntPtr actions, int fd, IntPtr path, int flags, int mode);
    [DllImport("libc")] static extern int posix_spawnattr_init(IntPtr attr);
    [DllImport("libc")] static extern int posix_spawnattr_destroy(IntPtr attr);
    [DllImport("libc")] static extern int posix_spawnattr_setflags(IntPtr attr, short flags);
    [DllImport("libc")] static extern int posix_spawnattr_setsigdefault(IntPtr attr, IntPtr set);
    [DllImport("libc")] static extern int posix_spawnattr_setsigmask(IntPtr attr, IntPtr set);
    [DllImport("libc")] static extern int sigfillset(IntPtr set);
    [DllImport("libc")] static extern int sigemptyset(IntPtr set);
    [DllImport("libc", SetLastError = true)] static extern int waitpid(int pid, out int status, int options);
    [DllImport("libc", SetLastError = true)] static extern int kill(int pid, int signal);
    [DllImport("libc")] static extern IntPtr realpath([MarshalAs(UnmanagedType.LPUTF8Str)] string path, IntPtr resolved);
    [DllImport("libc")] static extern void free(IntPtr p);
}
