using System.Text.Json.Nodes;

namespace Maskwork.EndToEnd.Tests;

/// <summary>
/// DESIGN.md section 4: each broken or incompatible plugin is reported by `maskwork plugins --json` with
/// a status and a reason and skipped, while the host runs on with the rest: the image plugin next to the
/// host and a working probe plugin in the same --plugins folder still load, and the probe's reader works.
/// </summary>
[Collection(E2ECollection.Name)]
public sealed class PluginFailureTests : IDisposable
{
    readonly string root = Directory.CreateTempSubdirectory("mw-e2e-fail-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(root, true); } catch (IOException) { }
    }

    /// <summary>A --plugins folder holding the working probe plugin.</summary>
    string PluginsWithProbe()
    {
        string dir = Path.Combine(root, "plugins");
        E2E.CopyTestPlugin("E2E.Probe", Path.Combine(dir, "probe"));
        E2E.WriteManifest(Path.Combine(dir, "probe"), "e2e.probe", "1.0.0", E2E.CurrentRange, "E2E.Probe.dll");
        return dir;
    }

    /// <summary>A copy of the probe under another folder name, to be broken by the test.</summary>
    string ProbeCopy(string dir, string name)
    {
        string folder = Path.Combine(dir, name);
        E2E.CopyTestPlugin("E2E.Probe", folder);
        return folder;
    }

    /// <summary>Lists plugins, checks the others are fine, and returns the entry at <paramref name="path"/>.</summary>
    static JsonObject Reported(string dir, string path)
    {
        var plugins = E2E.Plugins(E2E.Maskwork("plugins", "--json", "--plugins", dir));
        Assert.Equal("loaded", (string?)E2E.Single(plugins, "image")["status"]);
        Assert.Contains("image/mae", E2E.Single(plugins, "image")["recipes"]!.AsArray().Select(n => (string?)n));
        var entry = Assert.Single(plugins, p => (string?)p["path"] == path);
        Assert.False(string.IsNullOrWhiteSpace((string?)entry["reason"]), entry.ToJsonString());

        // The host runs on: the other plugin in the same folder reads data, the image recipes are there.
        var inspect = E2E.Maskwork("inspect", "--data", "e2e.probe:3", "--json", "--plugins", dir).Ok().Json();
        Assert.Equal(3, (int)inspect["samples"]!);
        var recipes = E2E.Maskwork("recipes", "--json", "--plugins", dir).Ok().Json().AsArray();
        Assert.Contains(recipes, r => (string?)r!["name"] == "image/mae");
        return entry;
    }

    [Fact]
    public void Abstractions_range_not_satisfied_is_incompatible()
    {
        string dir = PluginsWithProbe();
        string folder = ProbeCopy(dir, "future-range");
        E2E.WriteManifest(folder, "e2e.later", "1.0.0", "[9.0.0, 10.0.0)", "E2E.Probe.dll");
        var entry = Reported(dir, folder);
        Assert.Equal("incompatible", (string?)entry["status"]);
        Assert.Equal("e2e.later", (string?)entry["id"]);
        Assert.Equal($"built for abstractions [9.0.0, 10.0.0), host has {E2E.HostAbstractionsVersion}", (string?)entry["reason"]);
    }

    [Fact]
    public void Plugin_built_against_an_incompatible_shared_assembly_fails_with_a_type_load_reason()
    {
        string dir = PluginsWithProbe();
        string folder = Path.Combine(dir, "future");
        E2E.CopyTestPlugin("E2E.Future", folder);
        Assert.False(File.Exists(Path.Combine(folder, "Maskwork.Abstractions.dll")), "the stand-in abstractions must not ship with the plugin");
        E2E.WriteManifest(folder, "e2e.future", "1.0.0", E2E.CurrentRange, "E2E.Future.dll");
        var entry = Reported(dir, folder);
        Assert.Equal("failed", (string?)entry["status"]);
        Assert.StartsWith("type-load failure", (string?)entry["reason"]);
        Assert.Contains("IFutureContract", (string?)entry["reason"]);
    }

    [Fact]
    public void Register_that_throws_is_reported_with_the_exception()
    {
        string dir = PluginsWithProbe();
        string folder = ProbeCopy(dir, "thrower");
        File.WriteAllText(Path.Combine(folder, "register-throws"), "");
        E2E.WriteManifest(folder, "e2e.probe", "2.0.0", E2E.CurrentRange, "E2E.Probe.dll");     // a newer probe whose Register throws
        var plugins = E2E.Plugins(E2E.Maskwork("plugins", "--json", "--plugins", dir));
        var thrower = E2E.Single(plugins, "e2e.probe", folder);
        Assert.Equal("failed", (string?)thrower["status"]);
        Assert.Equal("Register threw InvalidOperationException: the probe was told to fail in Register", (string?)thrower["reason"]);
        // The newer copy failed, so the older working one still wins and is not superseded.
        var probe = E2E.Single(plugins, "e2e.probe", Path.Combine(dir, "probe"));
        Assert.Equal("loaded", (string?)probe["status"]);
        Reported(dir, folder);
    }

    [Fact]
    public void Missing_plugin_json_is_invalid()
    {
        string dir = PluginsWithProbe();
        string folder = ProbeCopy(dir, "no-manifest");
        var entry = Reported(dir, folder);
        Assert.Equal("invalid", (string?)entry["status"]);
        Assert.Equal("no-manifest", (string?)entry["id"]);
        Assert.Equal("no plugin.json in the folder", (string?)entry["reason"]);
    }

    [Theory]
    [InlineData("{ \"id\": \"e2e.bad\", ", "plugin.json is not valid JSON")]
    [InlineData("{ \"id\": \"E2E Bad\", \"version\": \"1.0.0\", \"abstractions\": \"[1.0.0, )\", \"entryAssembly\": \"E2E.Probe.dll\" }", "plugin.json: id 'E2E Bad' must be lowercase")]
    [InlineData("{ \"id\": \"e2e.bad\", \"version\": \"one\", \"abstractions\": \"[1.0.0, )\", \"entryAssembly\": \"E2E.Probe.dll\" }", "plugin.json: version 'one' is not SemVer")]
    [InlineData("{ \"id\": \"e2e.bad\", \"version\": \"1.0.0\", \"abstractions\": \"soon\", \"entryAssembly\": \"E2E.Probe.dll\" }", "plugin.json: abstractions 'soon' is not a version range")]
    [InlineData("{ \"id\": \"e2e.bad\", \"version\": \"1.0.0\", \"abstractions\": \"[1.0.0, )\" }", "plugin.json: entryAssembly is missing")]
    [InlineData("{ \"id\": \"e2e.bad\", \"version\": \"1.0.0\", \"abstractions\": \"[1.0.0, )\", \"entryAssembly\": \"Nope.dll\" }", "plugin.json: entryAssembly 'Nope.dll' does not exist")]
    public void Malformed_plugin_json_is_invalid(string manifest, string reason)
    {
        string dir = PluginsWithProbe();
        string folder = ProbeCopy(dir, "malformed");
        File.WriteAllText(Path.Combine(folder, "plugin.json"), manifest);
        var entry = Reported(dir, folder);
        Assert.Equal("invalid", (string?)entry["status"]);
        Assert.StartsWith(reason, (string?)entry["reason"]);
    }

    [Theory]
    [InlineData("../probe/E2E.Probe.dll")]
    [InlineData("/usr/share/dotnet/shared/Microsoft.NETCore.App/any.dll")]
    public void Entry_assembly_outside_its_folder_is_invalid(string entry)
    {
        string dir = PluginsWithProbe();
        string folder = Path.Combine(dir, "escape");
        Directory.CreateDirectory(folder);
        E2E.WriteManifest(folder, "e2e.escape", "1.0.0", E2E.CurrentRange, entry);
        var reported = Reported(dir, folder);
        Assert.Equal("invalid", (string?)reported["status"]);
        Assert.Equal($"plugin.json: entryAssembly '{entry}' points outside the plugin folder", (string?)reported["reason"]);
    }

    [Fact]
    public void Entry_assembly_linking_outside_its_folder_is_invalid()
    {
        string dir = PluginsWithProbe();
        string folder = Path.Combine(dir, "link");
        Directory.CreateDirectory(folder);
        File.CreateSymbolicLink(Path.Combine(folder, "E2E.Probe.dll"), Path.Combine(dir, "probe", "E2E.Probe.dll"));
        E2E.WriteManifest(folder, "e2e.link", "1.0.0", E2E.CurrentRange, "E2E.Probe.dll");
        var reported = Reported(dir, folder);
        Assert.Equal("invalid", (string?)reported["status"]);
        Assert.Contains("is a link to", (string?)reported["reason"]);
    }

    [Fact]
    public void Duplicate_id_newest_version_wins_and_the_older_is_superseded()
    {
        string dir = PluginsWithProbe();                             // probe 1.0.0 in dir/probe
        string newer = ProbeCopy(dir, "probe-newer");
        E2E.WriteManifest(newer, "e2e.probe", "1.2.0", E2E.CurrentRange, "E2E.Probe.dll");
        string older = Path.Combine(dir, "probe");
        var plugins = E2E.Plugins(E2E.Maskwork("plugins", "--json", "--plugins", dir));
        var winner = E2E.Single(plugins, "e2e.probe", newer);
        Assert.Equal("loaded", (string?)winner["status"]);
        Assert.Equal("1.2.0", (string?)winner["version"]);
        var loser = E2E.Single(plugins, "e2e.probe", older);
        Assert.Equal("superseded", (string?)loser["status"]);
        Assert.Equal("1.0.0", (string?)loser["version"]);
        Assert.Equal($"version 1.2.0 in {newer} wins", (string?)loser["reason"]);
        Reported(dir, older);
    }
}
