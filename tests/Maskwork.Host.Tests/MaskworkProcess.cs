using System.Diagnostics;
using System.Text.Json;
using Maskwork.Tests.Shared;

namespace Maskwork.Host.Tests;

/// <summary>Runs the real `maskwork` executable from the host's build folder.</summary>
public static class MaskworkProcess
{
    public static string RepoRoot => Repo.Root;

    public static string HostFolder => Repo.HostFolder;

    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        /// <summary>The JSON object on the last stdout line.</summary>
        public JsonElement Json()
        {
            var last = Stdout.TrimEnd().Split('\n')[^1];
            return JsonDocument.Parse(last).RootElement;
        }

        public override string ToString() => $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
    }

    public static Process Start(string hostFolder, IEnumerable<string> args, string? workingDirectory = null)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
        };
        psi.ArgumentList.Add(Path.Combine(hostFolder, "maskwork.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    public static Result Run(params string[] args) => RunIn(HostFolder, args);

    public static Result RunIn(string hostFolder, params string[] args)
    {
        using var p = Start(hostFolder, args);
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5))) { p.Kill(true); throw new TimeoutException("maskwork " + string.Join(' ', args)); }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>
    /// A copy of the host folder without its plugins/ folder: managed files are copied (the runtime takes the
    /// app's base directory from the real path of the main assembly), the large native libraries are symlinked.
    /// </summary>
    public static string HostWithoutPlugins(string target)
    {
        Directory.CreateDirectory(target);
        foreach (var entry in Directory.EnumerateFileSystemEntries(HostFolder))
        {
            string name = Path.GetFileName(entry);
            if (name == "plugins") continue;
            string link = Path.Combine(target, name);
            if (Directory.Exists(entry)) Directory.CreateSymbolicLink(link, entry);
            else if (new FileInfo(entry).Length > 16 << 20) File.CreateSymbolicLink(link, entry);
            else File.Copy(entry, link);
        }
        return target;
    }
}
