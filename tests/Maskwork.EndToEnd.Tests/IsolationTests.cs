using System.Text.Json.Nodes;

namespace Maskwork.EndToEnd.Tests;

/// <summary>
/// DESIGN.md section 4: a plugin's private dependencies stay private (two plugins carry Newtonsoft.Json
/// 12 and 13 and each runs with its own), while the shared set is the host's single copy.
/// </summary>
[Collection(E2ECollection.Name)]
public sealed class IsolationTests : IDisposable
{
    readonly string root = Directory.CreateTempSubdirectory("mw-e2e-iso-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(root, true); } catch (IOException) { }
    }

    [Fact]
    public void Two_plugins_use_two_versions_of_one_library_and_share_the_hosts_assemblies()
    {
        string dir = Path.Combine(root, "plugins");
        foreach (var v in new[] { "12", "13" })
        {
            string folder = Path.Combine(dir, "json" + v);
            E2E.CopyTestPlugin("E2E.Json" + v, folder);
            E2E.WriteManifest(folder, "e2e.json" + v, "1.0.0", E2E.CurrentRange, $"E2E.Json{v}.dll");
            Assert.True(File.Exists(Path.Combine(folder, "Newtonsoft.Json.dll")), $"json{v} ships its own Newtonsoft.Json");
            foreach (var shared in new[] { "Maskwork.Abstractions.dll", "Maskwork.Backend.dll", "TorchSharp.dll", "libLibTorchSharp.so", "Microsoft.Extensions.Logging.Abstractions.dll" })
                Assert.False(File.Exists(Path.Combine(folder, shared)), $"json{v} must not ship {shared}");
        }

        var plugins = E2E.Plugins(E2E.Maskwork("plugins", "--json", "--plugins", dir));
        Assert.All(plugins, p => Assert.Equal("loaded", (string?)p["status"]));
        var recipes = E2E.Maskwork("recipes", "--json", "--plugins", dir).Ok().Json().AsArray();

        JsonObject Facts(string v) => JsonNode.Parse((string)recipes.Single(r => (string?)r!["name"] == $"e2e.json{v}/info")!["description"]!)!.AsObject();
        var j12 = Facts("12");
        var j13 = Facts("13");
        Assert.Equal("12.0.0.0", (string?)j12["newtonsoft"]);
        Assert.StartsWith("12.0.3", (string?)j12["newtonsoft_file"]);
        Assert.Equal("13.0.0.0", (string?)j13["newtonsoft"]);
        Assert.StartsWith("13.0.3", (string?)j13["newtonsoft_file"]);
        Assert.Equal(Path.Combine(dir, "json12", "Newtonsoft.Json.dll"), (string?)j12["newtonsoft_path"]);
        Assert.Equal(Path.Combine(dir, "json13", "Newtonsoft.Json.dll"), (string?)j13["newtonsoft_path"]);

        // The shared set: one copy, the host's, for both plugins.
        foreach (var facts in new[] { j12, j13 })
        {
            Assert.Equal(Path.Combine(E2E.HostFolder, "Maskwork.Abstractions.dll"), (string?)facts["abstractions_path"]);
            Assert.Equal(Path.Combine(E2E.HostFolder, "TorchSharp.dll"), (string?)facts["torchsharp_path"]);
        }
    }
}
