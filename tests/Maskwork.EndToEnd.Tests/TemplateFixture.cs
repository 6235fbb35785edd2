using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Maskwork.EndToEnd.Tests;

/// <summary>
/// Made once for all tests, on first use: Maskwork.Abstractions and Maskwork.Backend packed into a temporary
/// feed (with a version no cache has seen), the template installed from plugin-template/ into a private
/// template hive, `dotnet new maskwork-plugin -n Acme.Signals`, restored with only that feed and nuget.org
/// into a private package folder, and published into a temporary plugins folder.
/// </summary>
public sealed class TemplateFixture : IDisposable
{
    readonly Lazy<Built> built;

    public TemplateFixture()
    {
        Root = Directory.CreateTempSubdirectory("mw-e2e-").FullName;
        built = new Lazy<Built>(Build, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public string Root { get; }
    public Built Plugin => built.Value;

    /// <summary>What the fixture produced.</summary>
    public sealed record Built(string Feed, string PackageVersion, string Hive, string Project, string PluginsFolder, Dictionary<string, string> Env);

    /// <summary>The version this repository's packages have (Directory.Build.props MaskworkAbstractionsVersion).</summary>
    public static string RepoVersion
    {
        get
        {
            string props = File.ReadAllText(Path.Combine(E2E.RepoRoot, "Directory.Build.props"));
            return Regex.Match(props, "<MaskworkAbstractionsVersion>([^<]+)</MaskworkAbstractionsVersion>").Groups[1].Value;
        }
    }

    Built Build()
    {
        string feed = Path.Combine(Root, "feed"), hive = Path.Combine(Root, "hive"), packages = Path.Combine(Root, "packages");
        // A prerelease no package cache holds: restores can only take it from this feed.
        string version = $"{RepoVersion}-e2e.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";
        var env = new Dictionary<string, string> { ["NUGET_PACKAGES"] = packages };

        // Pack what this test project was built with (no rebuild: other builds may run in the tree).
        // Baseline validation is build/pack.sh's job; here the package's own validation still runs.
        foreach (var library in new[] { "abstractions/Maskwork.Abstractions", "backend/Maskwork.Backend" })
            E2E.Dotnet(E2E.RepoRoot, env, "pack", library, "--no-build", "-c", E2E.Configuration, "-o", feed, "-nologo",
                $"-p:PackageVersion={version}", "-p:DisablePackageBaselineValidation=true").Ok();

        E2E.Dotnet(Root, env, "new", "install", Path.Combine(E2E.RepoRoot, "plugin-template", "templates", "maskwork-plugin"), "--debug:custom-hive", hive).Ok();
        string project = Path.Combine(Root, "Acme.Signals");
        E2E.Dotnet(Root, env, "new", "maskwork-plugin", "-n", "Acme.Signals", "-o", project, "--MaskworkVersion", version, "--feed", feed,
            "--debug:custom-hive", hive).Ok();
        File.WriteAllText(Path.Combine(project, "nuget.config"), NugetConfig(feed, packages));

        string plugins = Path.Combine(Root, "plugins");
        E2E.Dotnet(project, env, "publish", "src/Acme.Signals", "-c", "Release", "-o", Path.Combine(plugins, "acme.signals"), "-nologo").Ok();
        return new Built(feed, version, hive, project, plugins, env);
    }

    /// <summary>Only the temporary feed and nuget.org; packages go to a private folder, with the machine's caches read-only as fallbacks.</summary>
    static string NugetConfig(string feed, string packages)
    {
        var fallbacks = new[]
        {
            Environment.GetEnvironmentVariable("NUGET_PACKAGES"),
            Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"),
            "/opt/nuget/packages",
        }.Where(d => !string.IsNullOrEmpty(d) && Directory.Exists(d) && Path.GetFullPath(d!) != Path.GetFullPath(packages)).Distinct().ToList();
        var sb = new StringBuilder();
        sb.AppendLine("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
        sb.AppendLine("<configuration>");
        sb.AppendLine($"  <config><add key=\"globalPackagesFolder\" value=\"{packages}\" /></config>");
        sb.AppendLine("  <packageSources>\n    <clear />");
        sb.AppendLine($"    <add key=\"maskwork-e2e\" value=\"{feed}\" />");
        sb.AppendLine("    <add key=\"nuget.org\" value=\"https://api.nuget.org/v3/index.json\" protocolVersion=\"3\" />");
        sb.AppendLine("  </packageSources>");
        sb.AppendLine("  <fallbackPackageFolders>\n    <clear />");
        for (int i = 0; i < fallbacks.Count; i++) sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"    <add key=\"cache{i}\" value=\"{fallbacks[i]}\" />"));
        sb.AppendLine("  </fallbackPackageFolders>");
        sb.AppendLine("</configuration>");
        return sb.ToString();
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
