using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Maskwork.Tests.Shared;

namespace Maskwork.EndToEnd.Tests;

/// <summary>Paths and processes: the repository, the real `maskwork` build, `dotnet` for packing and building.</summary>
public static class E2E
{
    public const string Configuration = Repo.Configuration;

    public static string RepoRoot => Repo.Root;

    /// <summary>host/Maskwork.Host/bin/&lt;the configuration these tests were built with&gt;/net10.0.</summary>
    public static string HostFolder => Repo.HostFolder;

    /// <summary>Test plugins built with this project (TestPlugins/), by assembly name.</summary>
    public static string TestPlugin(string name) => Path.Combine(AppContext.BaseDirectory, "testplugins", name);

    public sealed record Result(string Command, int ExitCode, string Stdout, string Stderr)
    {
        /// <summary>The JSON on the last stdout line (DESIGN.md section 5).</summary>
        public JsonNode Json() => JsonNode.Parse(Stdout.TrimEnd().Split('\n')[^1])!;

        public Result Ok()
        {
            Assert.True(ExitCode == 0, ToString());
            return this;
        }

        public override string ToString() => $"{Command}\nexit {ExitCode}\nstdout: {Tail(Stdout)}\nstderr: {Tail(Stderr)}";
        static string Tail(string s) => s.Length > 6000 ? "…" + s[^6000..] : s;
    }

    /// <summary>Runs the built `maskwork`.</summary>
    public static Result Maskwork(IEnumerable<string> args, IDictionary<string, string>? env = null, string? cwd = null)
    {
        string exe = Path.Combine(HostFolder, "maskwork.dll");
        Assert.True(File.Exists(exe), $"{exe} is missing: build host/Maskwork.Host -c {Configuration} (building this test project does it)");
        return Run("dotnet", [exe, .. args], cwd ?? Path.GetTempPath(), env, TimeSpan.FromMinutes(5));
    }

    public static Result Maskwork(params string[] args) => Maskwork((IEnumerable<string>)args);

    /// <summary>Runs the dotnet CLI for packing, templating and building, isolated from the test host's MSBuild.</summary>
    public static Result Dotnet(string cwd, IDictionary<string, string>? env, params string[] args) =>
        Run("dotnet", args, cwd, env, TimeSpan.FromMinutes(8));

    public static Result Run(string file, IReadOnlyList<string> args, string cwd, IDictionary<string, string>? env, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = cwd };
        foreach (var a in args) psi.ArgumentList.Add(a);
        // `dotnet test` leaves MSBuild settings in the environment that would steer child builds.
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase) || k == "DOTNET_HOST_PATH" || k.StartsWith("VSTEST", StringComparison.Ordinal)).ToList())
            psi.Environment.Remove(key);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout)) { p.Kill(true); throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in {timeout}"); }
        return new Result($"{file} {string.Join(' ', args)}", p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>The entries of `maskwork plugins --json`, by path (ids may repeat).</summary>
    public static List<JsonObject> Plugins(Result r) => r.Ok().Json().AsArray().Select(n => n!.AsObject()).ToList();

    public static JsonObject Single(List<JsonObject> plugins, string id, string? path = null) =>
        Assert.Single(plugins, p => (string?)p["id"] == id && (path is null || (string?)p["path"] == path));

    /// <summary>Writes plugin.json into a plugin folder.</summary>
    public static void WriteManifest(string folder, string id, string version, string abstractions, string entryAssembly) =>
        File.WriteAllText(Path.Combine(folder, "plugin.json"), new JsonObject
        {
            ["id"] = id, ["version"] = version, ["abstractions"] = abstractions, ["entryAssembly"] = entryAssembly, ["description"] = "test",
        }.ToJsonString());

    /// <summary>The range plugins built against this repository declare.</summary>
    public static string CurrentRange => $"[{HostAbstractionsVersion}, {int.Parse(HostAbstractionsVersion.Split('.')[0], System.Globalization.CultureInfo.InvariantCulture) + 1}.0.0)";

    public static string HostAbstractionsVersion => typeof(Maskwork.Abstractions.IModalityPlugin).Assembly.GetName().Version!.ToString(3);

    /// <summary>Copies a test plugin's build output, without the placeholder plugin.json its build wrote: tests write their own.</summary>
    public static void CopyTestPlugin(string name, string to)
    {
        CopyFolder(TestPlugin(name), to);
        File.Delete(Path.Combine(to, "plugin.json"));
    }

    public static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(to, Path.GetRelativePath(from, f));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(f, target, true);
        }
    }

    public static JsonSerializerOptions Indented { get; } = new() { WriteIndented = true };
}
