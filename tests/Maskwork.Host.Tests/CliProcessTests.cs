using System.Text.Json;
using System.Text.RegularExpressions;
using Maskwork.Backend.Visuals;

namespace Maskwork.Host.Tests;

/// <summary>The command line as users meet it: help, suggestions, exit codes, plain output when redirected, and `runs`.</summary>
public class CliProcessTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("mw-cli-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(dir, true); } catch (IOException) { }
    }

    static readonly string[] Verbs = ["plugins", "recipes", "doctor", "pretrain", "resume", "probe", "embed", "reconstruct", "ingest", "inspect", "runs", "completion"];

    /// <summary>No ANSI escape codes, no "N/0" fractions of an unknown total.</summary>
    static void AssertPlain(string text, string what)
    {
        Assert.False(text.Contains('\u001b'), $"{what} has escape codes:\n{text}");
        Assert.False(Regex.IsMatch(text, @"\b\d+/0\b"), $"{what} shows a count over an unknown total (N/0):\n{text}");
    }

    [Fact]
    public void Help_lists_every_verb_and_each_verb_lists_its_options_with_defaults()
    {
        var root = MaskworkProcess.Run("--help");
        Assert.True(root.ExitCode == 0, root.ToString());
        foreach (var verb in Verbs) Assert.Matches($@"(?m)^\s+{verb}\b", root.Stdout);

        var pretrain = MaskworkProcess.Run("pretrain", "--help");
        Assert.True(pretrain.ExitCode == 0, pretrain.ToString());
        Assert.Contains("maskwork pretrain [options]", pretrain.Stdout);
        foreach (var option in new[] { "--recipe", "--data", "--config", "--steps", "--batch", "--device", "--precision", "--seed", "--out", "--set", "--json", "--plugins" })
            Assert.Contains(option, pretrain.Stdout);
        Assert.Contains("[default: image/mae]", pretrain.Stdout);
        Assert.Contains("[default: cpu]", pretrain.Stdout);

        var probe = MaskworkProcess.Run("probe", "--help");
        Assert.Contains("[default: linear]", probe.Stdout);
        Assert.Contains("data.<name>=<value>", probe.Stdout); // --set data.k=v on evaluation verbs
    }

    [Theory]
    [InlineData("pretrian", "pretrain", "maskwork [command] [options]")]
    [InlineData("pretrain --stpes 10", "--steps", "maskwork pretrain [options]")]
    [InlineData("probe --metod knn --run x", "--method", "maskwork probe [options]")]
    public void Misspellings_get_a_suggestion_the_commands_usage_and_exit_2(string line, string suggestion, string usage)
    {
        var r = MaskworkProcess.Run(line.Split(' '));
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains("Did you mean", r.Stderr);
        Assert.Contains(suggestion, r.Stderr[r.Stderr.IndexOf("Did you mean", StringComparison.Ordinal)..]);
        Assert.Contains(usage, r.Stderr);
        Assert.Equal("", r.Stdout);
    }

    [Theory]
    [InlineData("probe")] // --run is required
    [InlineData("pretrain --steps 0")]
    [InlineData("probe --run x --method svm")]
    [InlineData("inspect --data fashion-mnist --set size=3")] // only data.* here
    public void Usage_errors_exit_2_with_the_verbs_own_usage(string line)
    {
        var r = MaskworkProcess.Run(line.Split(' '));
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains($"maskwork {line.Split(' ')[0]} [options]", r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);
    }

    [Fact]
    public void Response_files_completion_and_the_suggest_directive_work()
    {
        string rsp = Path.Combine(dir, "inspect.rsp");
        File.WriteAllLines(rsp, ["--data", "fashion-mnist", "--limit", "7", "--json"]);
        var r = MaskworkProcess.Run("inspect", "@" + rsp);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(7, r.Json().GetProperty("samples").GetInt32());

        var script = MaskworkProcess.Run("completion", "bash");
        Assert.True(script.ExitCode == 0, script.ToString());
        Assert.Contains("complete -o default -F _maskwork_complete maskwork", script.Stdout);
        Assert.Contains("[suggest:", script.Stdout);

        Assert.Contains("knn", MaskworkProcess.Run("[suggest:16]", "probe --method k").Stdout.Split('\n').Select(l => l.Trim()));
        Assert.Contains("--device", MaskworkProcess.Run("[suggest:12]", "pretrain --d").Stdout.Split('\n').Select(l => l.Trim()));
    }

    [Fact]
    public void Tables_and_recipe_descriptions_are_plain_text_when_redirected()
    {
        foreach (var args in new[] { new[] { "plugins" }, ["recipes"], ["doctor"], ["runs", "--root", dir] })
        {
            var r = MaskworkProcess.Run(args);
            Assert.True(r.ExitCode == 0, r.ToString());
            AssertPlain(r.Stdout + r.Stderr, string.Join(' ', args));
        }
        var mae = MaskworkProcess.Run("recipes", "image/mae");
        Assert.Contains("share of tokens hidden", mae.Stdout); // model.mask_ratio's [Description] (GridMaskerOptions)
        Assert.Contains("train.warmup_steps", mae.Stdout);
        var json = MaskworkProcess.Run("recipes", "image/mae", "--json").Json();
        var options = json.GetProperty("options").EnumerateArray().ToList();
        Assert.NotEmpty(options);
        Assert.All(options, o => Assert.False(string.IsNullOrWhiteSpace(o.GetProperty("description").GetString()), o.GetProperty("key").GetString()));
        Assert.Equal(0.6, json.GetProperty("model").GetProperty("mask_ratio").GetDouble());
    }

    /// <summary>A labelled image folder with train/ and test/ splits: small enough for a process test.</summary>
    string ImageFolder()
    {
        string root = Path.Combine(dir, "images");
        var rng = new Random(3);
        foreach (var split in new[] { "train", "test" })
            foreach (var label in new[] { "dark", "light" })
                for (int i = 0; i < (split == "train" ? 24 : 8); i++)
                {
                    var pixels = new byte[28 * 28 * 3];
                    int level = label == "dark" ? 40 : 200;
                    for (int p = 0; p < pixels.Length; p++) pixels[p] = (byte)Math.Clamp(level + rng.Next(-30, 31), 0, 255);
                    new RgbImage(28, 28, pixels).SavePng(Path.Combine(root, split, label, $"{i}.png"));
                }
        return root;
    }

    [Fact]
    public void Runs_lists_a_run_with_its_status_progress_and_evaluations_and_redirected_stderr_is_plain()
    {
        string runs = Path.Combine(dir, "runs"), run = Path.Combine(runs, "tiny");
        var pre = MaskworkProcess.Run("pretrain", "--data", $"image-folder:{ImageFolder()}", "--steps", "6", "--out", run, "--json",
            "--set", "train.log_every=2", "--set", "train.checkpoint_every=3", "--batch", "16",
            "--set", "model.encoder_dim=32", "--set", "model.encoder_depth=1", "--set", "model.encoder_heads=2",
            "--set", "model.decoder_dim=16", "--set", "model.decoder_depth=1", "--set", "model.decoder_heads=2");
        Assert.True(pre.ExitCode == 0, pre.ToString());
        AssertPlain(pre.Stderr, "pretrain's stderr");
        AssertPlain(pre.Stdout, "pretrain's stdout");
        Assert.Contains("pretrain image/mae: 6/6 steps", pre.Stderr);

        var status = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "status.json"))).RootElement;
        Assert.Equal("finished", status.GetProperty("state").GetString());
        Assert.Equal(6, status.GetProperty("steps").GetInt64());
        Assert.Equal(pre.Json().GetProperty("final_loss").GetDouble(), status.GetProperty("final_loss").GetDouble());
        var progress = File.ReadAllLines(Path.Combine(run, "progress.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal([2L, 4L, 6L], progress.Select(p => p.GetProperty("step").GetInt64()));
        foreach (var key in new[] { "loss", "lr", "samples_per_s", "elapsed" }) Assert.True(progress[0].TryGetProperty(key, out _), key);

        var probe = MaskworkProcess.Run("probe", "--run", run, "--method", "knn", "--set", "probe.pool=mean+max", "--json");
        Assert.True(probe.ExitCode == 0, probe.ToString());
        AssertPlain(probe.Stderr, "probe's stderr");
        Assert.Equal("mean+max", probe.Json().GetProperty("pool").GetString());
        var badPool = MaskworkProcess.Run("probe", "--run", run, "--set", "probe.pool=median");
        Assert.Equal(2, badPool.ExitCode);
        Assert.Contains("probe.pool=mean|mean+max", badPool.Stderr);
        var deep = MaskworkProcess.Run("probe", "--run", run, "--set", "probe.layer=99");
        Assert.Equal(2, deep.ExitCode);
        Assert.Contains("K must be 0", deep.Stderr);

        var list = MaskworkProcess.Run("runs", "--root", runs, "--json");
        Assert.True(list.ExitCode == 0, list.ToString());
        var entry = Assert.Single(JsonDocument.Parse(list.Stdout.TrimEnd().Split('\n')[^1]).RootElement.EnumerateArray());
        Assert.Equal(Path.GetFullPath(run), entry.GetProperty("run").GetString());
        Assert.Equal("image/mae", entry.GetProperty("recipe").GetString());
        Assert.Equal("finished", entry.GetProperty("state").GetString());
        Assert.Equal(6, entry.GetProperty("steps").GetInt64());
        foreach (var key in new[] { "data", "final_loss", "samples_per_s" }) Assert.True(entry.TryGetProperty(key, out _), key);
        var evaluation = Assert.Single(entry.GetProperty("evaluations").EnumerateArray());
        Assert.Equal(probe.Json().GetProperty("accuracy").GetDouble(), evaluation.GetProperty("accuracy").GetDouble());
        Assert.Equal("knn", evaluation.GetProperty("method").GetString());

        var table = MaskworkProcess.Run("runs", "--root", runs);
        Assert.Contains("tiny", table.Stdout);
        Assert.Contains("finished", table.Stdout);
    }
}
