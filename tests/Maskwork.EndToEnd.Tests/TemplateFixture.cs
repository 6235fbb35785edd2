using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Maskwork.EndToEnd.Tests;

/// <summary>
/// The README is the test. Made once for all tests, on first use: a copy of this checkout (tracked and
/// untracked-but-not-ignored files, as a fresh clone would hold them plus uncommitted work), then the shell block
/// of the README's "Write your own modality" section run literally in it with bash — build the host, pack with
/// package validation, install the template, create Acme.Signals next to the clone, test it, publish it into
/// ~/maskwork-plugins and pretrain with it. HOME is a temporary folder (so ~/maskwork-plugins and the template
/// hive are the test's own); NuGet restores into a private package folder, with the machine's caches as
/// read-only fallbacks minus any Maskwork package, so every Maskwork package comes from the clone's feed.
/// Later, on demand: a plugin made from the last release's template against the last release's packages
/// (build/releases/), for the compatibility tests.
/// </summary>
public sealed class TemplateFixture : IDisposable
{
    readonly Lazy<Built> built;
    readonly Lazy<string> legacy;

    public TemplateFixture()
    {
        Root = Directory.CreateTempSubdirectory("mw-e2e-").FullName;
        built = new Lazy<Built>(Build, LazyThreadSafetyMode.ExecutionAndPublication);
        legacy = new Lazy<string>(BuildLegacy, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public string Root { get; }

    /// <summary>The README block's outcome: it ran on first use of this property.</summary>
    public Built Plugin => built.Value;

    /// <summary>A plugins folder holding acme.legacy, made from the last release's template and packages.</summary>
    public string LegacyPlugins => legacy.Value;

    /// <summary>What the README block produced.</summary>
    /// <param name="Checkout">The copy of the checkout the block ran in.</param>
    /// <param name="Project">The generated plugin project (next to the clone, as the README says).</param>
    /// <param name="PluginsFolder">~/maskwork-plugins of the test's HOME.</param>
    /// <param name="Script">The block as extracted from the README.</param>
    /// <param name="Output">What running it printed.</param>
    /// <param name="Env">HOME and NuGet settings to run dotnet as the block did.</param>
    public sealed record Built(string Checkout, string Project, string PluginsFolder, string Script, E2E.Result Output, Dictionary<string, string> Env);

    /// <summary>The version this repository's packages have (Directory.Build.props MaskworkAbstractionsVersion).</summary>
    public static string RepoVersion => PropsValue("Directory.Build.props", "MaskworkAbstractionsVersion");

    /// <summary>The last released version (build/package-baseline.props).</summary>
    public static string ReleaseVersion => PropsValue(Path.Combine("build", "package-baseline.props"), "MaskworkPackageBaselineVersion");

    static string PropsValue(string file, string property) =>
        Regex.Match(File.ReadAllText(Path.Combine(E2E.RepoRoot, file)), $"<{property}>([^<]+)</{property}>").Groups[1].Value;

    /// <summary>The first ```bash block after the heading "## <paramref name="section"/>" of a README.</summary>
    public static string ShellBlock(string readme, string section)
    {
        var m = Regex.Match(readme, $@"^## {Regex.Escape(section)}\s*$.*?^```(?:bash|sh)\s*$\n(?<body>.*?)^```\s*$",
            RegexOptions.Multiline | RegexOptions.Singleline);
        Assert.True(m.Success, $"README has no shell block under '## {section}'");
        return m.Groups["body"].Value;
    }

    Built Build()
    {
        string clone = Path.Combine(Root, "maskwork"), home = Path.Combine(Root, "home");
        CopyCheckout(E2E.RepoRoot, clone);
        var env = IsolatedNuget(home);

        string script = ShellBlock(File.ReadAllText(Path.Combine(clone, "README.md")), "Write your own modality");
        string file = Path.Combine(Root, "readme-block.sh");
        File.WriteAllText(file, script);
        var output = E2E.Run("bash", ["-euo", "pipefail", file], clone, env, TimeSpan.FromMinutes(15));
        return new Built(clone, Path.Combine(Root, "Acme.Signals"), Path.Combine(home, "maskwork-plugins"), script, output, env);
    }

    string BuildLegacy()
    {
        var p = Plugin;
        string releases = Path.Combine(p.Checkout, "build", "releases"), hive = Path.Combine(Root, "legacy-hive");
        string template = Path.Combine(releases, $"Maskwork.Templates.{ReleaseVersion}.nupkg");
        E2E.Dotnet(Root, p.Env, "new", "install", template, "--debug:custom-hive", hive).Ok();
        string project = Path.Combine(Root, "Acme.Legacy");
        // The release's template defaults to the release's packages; --feed points at them.
        E2E.Dotnet(Root, p.Env, "new", "maskwork-plugin", "-n", "Acme.Legacy", "-o", project, "--feed", releases, "--debug:custom-hive", hive).Ok();
        string plugins = Path.Combine(Root, "legacy-plugins");
        E2E.Dotnet(project, p.Env, "publish", "src/Acme.Legacy", "-c", "Release", "-o", Path.Combine(plugins, "acme.legacy"), "-nologo").Ok();
        return plugins;
    }

    /// <summary>The checkout as `git ls-files` sees it: tracked files (deleted ones left out) and untracked files that are not ignored.</summary>
    static void CopyCheckout(string repo, string to)
    {
        var files = E2E.Run("git", ["-C", repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard"], repo, null, TimeSpan.FromMinutes(1)).Ok();
        foreach (var rel in files.Stdout.Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            string source = Path.Combine(repo, rel);
            if (!File.Exists(source)) continue;   // deleted in the work tree
            string target = Path.Combine(to, rel);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(source, target);
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(target, File.GetUnixFileMode(source));
        }
    }

    /// <summary>
    /// A HOME of its own with a user NuGet.Config whose fallback folders are the machine's package caches minus
    /// Maskwork's (linked package by package): nothing is downloaded twice, and a Maskwork package of an
    /// earlier build of the same version can never be picked up instead of the one the README block packs.
    /// </summary>
    Dictionary<string, string> IsolatedNuget(string home)
    {
        string packages = Path.Combine(Root, "packages"), view = Path.Combine(Root, "package-cache-view");
        Directory.CreateDirectory(view);
        var caches = new[]
        {
            Environment.GetEnvironmentVariable("NUGET_PACKAGES"),
            Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"),
            "/opt/nuget/packages",
        }.Where(d => !string.IsNullOrEmpty(d) && Directory.Exists(d)).Select(d => Path.GetFullPath(d!)).Distinct();
        foreach (var cache in caches)
            foreach (var dir in Directory.GetDirectories(cache))
            {
                string name = Path.GetFileName(dir);
                string link = Path.Combine(view, name);
                if (name.StartsWith("maskwork.", StringComparison.OrdinalIgnoreCase) || Directory.Exists(link)) continue;
                Directory.CreateSymbolicLink(link, dir);
            }

        string config = Path.Combine(home, ".nuget", "NuGet", "NuGet.Config");
        Directory.CreateDirectory(Path.GetDirectoryName(config)!);
        var sb = new StringBuilder();
        sb.AppendLine("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
        sb.AppendLine("<configuration>");
        sb.AppendLine("  <fallbackPackageFolders>");
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"    <add key=\"machine-cache\" value=\"{view}\" />"));
        sb.AppendLine("  </fallbackPackageFolders>");
        sb.AppendLine("</configuration>");
        File.WriteAllText(config, sb.ToString());
        return new Dictionary<string, string> { ["HOME"] = home, ["DOTNET_CLI_HOME"] = home, ["NUGET_PACKAGES"] = packages };
    }

    /// <summary>The JSON object on the last line of the README block's output (its `pretrain --json`).</summary>
    public static JsonNode LastJson(E2E.Result r) => JsonNode.Parse(r.Stdout.TrimEnd().Split('\n')[^1])!;

    public void Dispose()
    {
        // Unlink the cache view first: its entries point into the machine's package caches.
        string view = Path.Combine(Root, "package-cache-view");
        if (Directory.Exists(view)) foreach (var link in Directory.GetDirectories(view)) Directory.Delete(link);
        try { Directory.Delete(Root, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
