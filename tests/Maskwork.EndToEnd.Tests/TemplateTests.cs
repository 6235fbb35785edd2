using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Maskwork.Backend.Training;

namespace Maskwork.EndToEnd.Tests;

/// <summary>
/// The acceptance: a plugin made with `dotnet new maskwork-plugin` from packed Maskwork packages,
/// published into a plugins folder, pretrains with the real `maskwork`; and every verb finds plugins
/// through --plugins and through configuration.
/// </summary>
[Collection(E2ECollection.Name)]
public sealed class TemplateTests(TemplateFixture fixture)
{
    /// <summary>A noisy two-tone series with an offset (and a label column that changes every 64 steps).</summary>
    static string WriteSeries(string path, int steps, int seed)
    {
        var rng = new Random(seed);
        var sb = new StringBuilder("time,value,label\n");
        for (int t = 0; t < steps; t++)
        {
            int label = t / 64 % 2;
            double v = 1 + (label == 0 ? 2 : 1) * Math.Sin(t * (label == 0 ? 0.07 : 0.19)) + 0.5 * Math.Sin(t * 0.31) + 0.05 * (rng.NextDouble() - 0.5);
            sb.Append(string.Create(CultureInfo.InvariantCulture, $"{t},{v:F5},{label}\n"));
        }
        File.WriteAllText(path, sb.ToString());
        return path;
    }

    [Fact]
    public async Task The_readme_block_runs_as_written_and_its_pretrain_loss_falls()
    {
        var p = fixture.Plugin;
        Assert.True(p.Output.ExitCode == 0, $"the README's 'Write your own modality' block failed:\n{p.Script}\n{p.Output}");
        Assert.Contains("build/pack.sh", p.Script);                     // package validation against the last release is part of it
        Assert.DoesNotContain("DisablePackageBaselineValidation", p.Script);
        Assert.Contains("Passed!", p.Output.Stdout);                    // step 4: the generated plugin's own tests

        string folder = Path.Combine(p.PluginsFolder, "acme.signals");
        var files = Directory.GetFiles(folder).Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["Acme.Signals.deps.json", "Acme.Signals.dll", "Acme.Signals.pdb", "plugin.json"], files);
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "plugin.json")))!;
        Assert.Equal("acme.signals", (string?)manifest["id"]);
        Assert.Equal(E2E.CurrentRange, (string?)manifest["abstractions"]);
        Assert.Equal("Acme.Signals.dll", (string?)manifest["entryAssembly"]);

        var json = TemplateFixture.LastJson(p.Output);
        Assert.Equal("acme.signals/mae", (string?)json["recipe"]);
        Assert.Equal(20, (int)json["steps"]!);
        Assert.Equal(0, (int)json["nonfinite_steps"]!);
        Assert.Equal(0, (int)json["skipped_samples"]!);
        double final = (double)json["final_loss"]!;
        Assert.True(double.IsFinite(final), p.Output.ToString());

        string run = (string)json["run"]!;
        if (!Path.IsPathRooted(run)) run = Path.Combine(p.Project, run);
        var rows = (await MetricsLog.OpenAsync(Path.Combine(run, "metrics.parquet"), long.MaxValue)).Rows;
        Assert.Equal(Enumerable.Range(1, 20).Select(i => (long)i), rows.Select(x => x.Step));
        double first = rows.Take(5).Average(x => x.Loss), last = rows.TakeLast(5).Average(x => x.Loss);
        Assert.True(last < 0.9 * first, $"loss did not fall: first five {first:F4}, last five {last:F4}\n{p.Output}");
        Assert.Equal(final, rows[^1].Loss, 1e-9);
    }

    [Fact]
    public void The_readme_block_extraction_fails_on_a_broken_command()
    {
        // The extraction the fixture uses, and bash -e on it: a block whose command fails stops there with its exit code.
        string readme = "# x\n\n## Write your own modality\n\ntext\n\n```bash\necho one\nfalse-command-that-does-not-exist --flag\necho never\n```\n";
        string block = TemplateFixture.ShellBlock(readme, "Write your own modality");
        Assert.Equal("echo one\nfalse-command-that-does-not-exist --flag\necho never\n", block);
        string file = Path.Combine(fixture.Root, "broken-block.sh");
        File.WriteAllText(file, block);
        var r = E2E.Run("bash", ["-euo", "pipefail", file], fixture.Root, null, TimeSpan.FromMinutes(1));
        Assert.NotEqual(0, r.ExitCode);
        Assert.DoesNotContain("never", r.Stdout);
    }

    [Fact]
    public void Every_verb_finds_plugins_through_the_plugins_option_and_configuration()
    {
        var p = fixture.Plugin;
        string dir = Path.Combine(fixture.Root, "verbs");
        Directory.CreateDirectory(dir);
        string csv = WriteSeries(Path.Combine(dir, "series.csv"), 2048, 2);
        string[] plugins = ["--plugins", Path.Combine(fixture.Root, "does-not-exist"), "--plugins", p.PluginsFolder];   // repeatable
        string[] tiny = ["--set", "model.encoder_dim=16", "--set", "model.encoder_depth=1", "--set", "model.decoder_dim=16", "--set", "model.length=64", "--batch", "16"];

        var listed = E2E.Plugins(E2E.Maskwork(["plugins", "--json", .. plugins]));
        Assert.Equal("loaded", (string?)E2E.Single(listed, "acme.signals")["status"]);
        Assert.Contains(E2E.Maskwork(["recipes", "--json", .. plugins]).Ok().Json().AsArray(), x => (string?)x!["name"] == "acme.signals/mae");
        var doctor = E2E.Maskwork(["doctor", "--json", .. plugins]).Json();
        Assert.Contains(doctor["plugins"]!.AsArray(), x => (string?)x!["id"] == "acme.signals" && (string?)x["status"] == "loaded");
        Assert.Contains(p.PluginsFolder, doctor["plugin_folders"]!.AsArray().Select(x => (string?)x));

        var inspect = E2E.Maskwork(["inspect", "--data", $"acme.signals-csv:{csv}", "--set", "data.window=64", "--json", .. plugins]).Ok().Json();
        Assert.Equal(32, (int)inspect["samples"]!);
        string ingested = Path.Combine(dir, "ingested");
        var ingest = E2E.Maskwork(["ingest", "--reader", "acme.signals-csv", "--in", csv, "--out", ingested, "--set", "data.window=64", "--json", .. plugins]).Ok().Json();
        Assert.Equal(32, (int)ingest["samples"]!);
        var parquet = E2E.Maskwork(["inspect", "--data", $"acme.signals-parquet:{ingested}", "--json", .. plugins]).Ok().Json();
        Assert.Equal(32, (int)parquet["samples"]!);

        string run = Path.Combine(dir, "run");
        E2E.Maskwork(["pretrain", "--recipe", "acme.signals/mae", "--data", $"acme.signals-csv:{csv}", "--steps", "2", "--out", run, "--json", .. tiny, .. plugins]).Ok();
        Assert.Equal(3, (int)E2E.Maskwork(["resume", "--run", run, "--steps", "3", "--json", .. plugins]).Ok().Json()["steps"]!);
        var probe = E2E.Maskwork(["probe", "--run", run, "--method", "knn", "--json", .. plugins]).Ok().Json();
        Assert.True((int)probe["train_count"]! > 0 && (int)probe["test_count"]! > 0, probe.ToJsonString());
        string embeddings = Path.Combine(dir, "features.parquet");
        E2E.Maskwork(["embed", "--run", run, "--data", $"acme.signals-csv:{csv}", "--out", embeddings, .. plugins]).Ok();
        Assert.True(new FileInfo(embeddings).Length > 0);
        var reconstruct = E2E.Maskwork(["reconstruct", "--run", run, "--out", Path.Combine(dir, "r.png"), .. plugins]);
        Assert.Contains("has no reconstruction renderer", reconstruct.Stderr);         // found the recipe; the template has no renderer

        // Without --plugins the recipe is unknown; configuration (environment) brings the folder back.
        var missing = E2E.Maskwork("resume", "--run", run, "--steps", "4");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("recipe 'acme.signals/mae' is not available", missing.Stderr);
        var env = new Dictionary<string, string> { ["MASKWORK_Maskwork__PluginFolders__0"] = p.PluginsFolder };
        Assert.Equal("loaded", (string?)E2E.Single(E2E.Plugins(E2E.Maskwork(["plugins", "--json"], env)), "acme.signals")["status"]);
        Assert.Equal(4, (int)E2E.Maskwork(["resume", "--run", run, "--steps", "4", "--json"], env).Ok().Json()["steps"]!);
    }

    [Fact]
    public void The_template_packs_as_a_template_package_and_defaults_to_this_version()
    {
        var template = JsonNode.Parse(File.ReadAllText(Path.Combine(E2E.RepoRoot, "plugin-template", "templates", "maskwork-plugin", ".template.config", "template.json")))!;
        Assert.Equal(TemplateFixture.RepoVersion, (string?)template["symbols"]!["MaskworkVersion"]!["defaultValue"]);
        Assert.Equal(TemplateFixture.RepoVersion, E2E.HostAbstractionsVersion);

        string feed = Path.Combine(fixture.Root, "template-feed"), hive = Path.Combine(fixture.Root, "template-hive");
        E2E.Dotnet(E2E.RepoRoot, null, "pack", "plugin-template", "-o", feed, "-nologo").Ok();
        string nupkg = Assert.Single(Directory.GetFiles(feed, "Maskwork.Templates.*.nupkg"));
        E2E.Dotnet(fixture.Root, null, "new", "install", nupkg, "--debug:custom-hive", hive).Ok();
        var list = E2E.Dotnet(fixture.Root, null, "new", "list", "maskwork-plugin", "--debug:custom-hive", hive).Ok();
        Assert.Contains("maskwork-plugin", list.Stdout);
        // `dotnet new maskwork-plugin --help` documents the parameters a plugin author sets.
        var help = E2E.Dotnet(fixture.Root, null, "new", "maskwork-plugin", "--help", "--debug:custom-hive", hive).Ok();
        Assert.Contains("--MaskworkVersion", help.Stdout);
        Assert.Contains("--feed", help.Stdout);
        Assert.Contains("lowest host version", help.Stdout);
        Assert.Contains($"Default: {TemplateFixture.RepoVersion}", help.Stdout);
    }
}
