using System.Diagnostics;
using System.Text.Json;
using Maskwork.Backend.Training;
using StbImageWriteSharp;

namespace Maskwork.Host.Tests;

/// <summary>The real `maskwork` process, loading the image plugin from its folder.</summary>
public class ProcessTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("mw-host-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(dir, true); } catch (IOException) { }
    }

    static readonly string[] Tiny =
    [
        "--set", "model.encoder_dim=32", "--set", "model.encoder_depth=1", "--set", "model.encoder_heads=2",
        "--set", "model.decoder_dim=16", "--set", "model.decoder_depth=1", "--set", "model.decoder_heads=2", "--batch", "32",
    ];

    static string[] Args(params string[][] parts) => parts.SelectMany(p => p).ToArray();

    [Fact]
    public void Plugins_json_lists_the_image_plugin_loaded_from_its_folder()
    {
        var r = MaskworkProcess.Run("plugins", "--json");
        Assert.True(r.ExitCode == 0, r.ToString());
        var image = r.Json().EnumerateArray().Single(p => p.GetProperty("id").GetString() == "image");
        Assert.Equal("1.0.0", image.GetProperty("version").GetString());
        Assert.Equal("loaded", image.GetProperty("status").GetString());
        Assert.StartsWith(Path.Combine(MaskworkProcess.HostFolder, "plugins"), image.GetProperty("path").GetString());
        Assert.Contains("image/mae", image.GetProperty("recipes").EnumerateArray().Select(e => e.GetString()));
        Assert.False(File.Exists(Path.Combine(image.GetProperty("path").GetString()!, "TorchSharp.dll")), "shared assemblies must not be in the plugin folder");
    }

    [Fact]
    public void Without_the_plugin_folder_pretrain_names_the_recipe_and_the_folders_searched()
    {
        string host = MaskworkProcess.HostWithoutPlugins(Path.Combine(dir, "host"));
        var r = MaskworkProcess.RunIn(host, "pretrain", "--recipe", "image/mae", "--steps", "1", "--out", Path.Combine(dir, "run"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("image/mae", r.Stderr);
        Assert.Contains(Path.Combine(host, "plugins"), r.Stderr);
        var doctor = MaskworkProcess.RunIn(host, "doctor", "--json");
        Assert.False(doctor.Json().GetProperty("plugins_ok").GetBoolean());
        Assert.True(doctor.Json().GetProperty("native_ok").GetBoolean(), doctor.ToString());
    }

    [Fact]
    public void Doctor_reports_native_libraries_and_plugins()
    {
        var r = MaskworkProcess.Run("doctor", "--json");
        Assert.True(r.ExitCode == 0, r.ToString());
        var j = r.Json();
        Assert.True(j.GetProperty("native_ok").GetBoolean());
        Assert.True(j.GetProperty("plugins_ok").GetBoolean());
        foreach (var key in new[] { "backend", "device", "native_detail" }) Assert.True(j.TryGetProperty(key, out _), key);
    }

    [Fact]
    public void Resume_gives_the_same_loss_and_parameters_as_an_uninterrupted_run()
    {
        string a = Path.Combine(dir, "a"), b = Path.Combine(dir, "b");
        var common = Args(["pretrain", "--recipe", "image/mae", "--data", "fashion-mnist", "--seed", "1", "--json", "--set", "train.checkpoint_every=10"], Tiny);
        var first = MaskworkProcess.Run(Args(common, ["--steps", "20", "--out", a]));
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Equal(20, first.Json().GetProperty("steps").GetInt64());
        var resumed = MaskworkProcess.Run("resume", "--run", a, "--steps", "40", "--json");
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        var straight = MaskworkProcess.Run(Args(common, ["--steps", "40", "--out", b]));
        Assert.True(straight.ExitCode == 0, straight.ToString());

        foreach (var key in new[] { "run", "recipe", "steps", "final_loss", "samples_per_s", "skipped_samples", "nonfinite_steps", "precision", "device" })
            Assert.True(resumed.Json().TryGetProperty(key, out _), $"resume --json lacks {key}");
        Assert.Equal(40, resumed.Json().GetProperty("steps").GetInt64());
        Assert.Equal(straight.Json().GetProperty("final_loss").GetDouble(), resumed.Json().GetProperty("final_loss").GetDouble(), 6);

        var (_, ta) = Checkpoint.Load(Path.Combine(a, "checkpoints", "last.ckpt"));
        var (_, tb) = Checkpoint.Load(Path.Combine(b, "checkpoints", "last.ckpt"));
        Assert.Equal(tb.Keys.Order(), ta.Keys.Order());
        foreach (var (name, t) in tb.Where(kv => kv.Key.StartsWith("model.", StringComparison.Ordinal)))
            Assert.True(t.allclose(ta[name], rtol: 0, atol: 1e-5), $"{name} differs after resume");

        foreach (var file in new[] { "config.json", "metrics.parquet", "loss.png", "reconstructions.png", "log.txt", "checkpoints/last.ckpt", "checkpoints/step-40.ckpt" })
            Assert.True(File.Exists(Path.Combine(a, file)), $"run folder lacks {file}");
    }

    static long StepOf(string checkpoint)
    {
        try { return File.Exists(checkpoint) ? Checkpoint.Load(checkpoint).State.Step : -1; }
        catch (CheckpointException) { return -1; } // a reader can race the rename; the next poll sees the new file
    }

    /// <summary>Whether this process ignores SIGINT (bit 1 of SigIgn in /proc/self/status).</summary>
    static bool SigintIgnored() =>
        (Convert.ToUInt64(File.ReadLines("/proc/self/status").First(l => l.StartsWith("SigIgn:"))["SigIgn:".Length..].Trim(), 16) & 0x2) != 0;

    static void WaitFor(Func<bool> condition, Process p, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (p.HasExited) Assert.Fail($"maskwork exited ({p.ExitCode}) before {what}");
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(5), $"timed out waiting for {what}");
            Thread.Sleep(50);
        }
    }

    [Fact]
    public async Task Sigkill_during_training_leaves_a_loadable_checkpoint_and_sigint_exits_130()
    {
        string run = Path.Combine(dir, "killed"), last = Path.Combine(run, "checkpoints", "last.ckpt");
        var args = Args(["pretrain", "--recipe", "image/mae", "--seed", "2", "--steps", "100000", "--out", run, "--set", "train.checkpoint_every=3"], Tiny);
        using (var p = MaskworkProcess.Start(MaskworkProcess.HostFolder, args))
        {
            var drain = Task.WhenAll(p.StandardOutput.ReadToEndAsync(), p.StandardError.ReadToEndAsync());
            WaitFor(() => StepOf(last) >= 9, p, "three checkpoints");
            p.Kill(); // SIGKILL, wherever it is (possibly mid-write of the next checkpoint)
            await p.WaitForExitAsync();
            await drain;
        }
        long killedAt = Checkpoint.Load(last).State.Step; // must load: the rename is atomic
        Assert.True(killedAt >= 9);

        using var resumed = MaskworkProcess.Start(MaskworkProcess.HostFolder, ["resume", "--run", run, "--steps", "100000", "--json"]);
        var stdout = resumed.StandardOutput.ReadToEndAsync();
        var stderr = resumed.StandardError.ReadToEndAsync();
        WaitFor(() => StepOf(last) >= killedAt + 6, resumed, "the resumed run to checkpoint");
        // A test run started in the background (nohup, `&` without job control) inherits SIGINT as ignored, and so does
        // the child (POSIX keeps an inherited SIG_IGN; so does .NET): then send SIGTERM, which the CLI handles the same way.
        Process.Start("kill", [SigintIgnored() ? "-TERM" : "-INT", resumed.Id.ToString()])!.WaitForExit();
        await resumed.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        string err = await stderr, outText = await stdout;
        Assert.True(resumed.ExitCode == 130, $"exit {resumed.ExitCode}: {err}");
        var json = JsonDocument.Parse(outText.TrimEnd().Split('\n')[^1]).RootElement;
        Assert.True(json.GetProperty("interrupted").GetBoolean());
        Assert.Equal(json.GetProperty("steps").GetInt64(), Checkpoint.Load(last).State.Step);
        Assert.Contains("maskwork resume --run", err);
    }

    static void WriteImage(string path, int w, int h, int comps, bool jpeg, int seed)
    {
        var data = new byte[w * h * comps];
        new Random(seed).NextBytes(data);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var fs = File.Create(path);
        var c = comps switch { 1 => ColorComponents.Grey, 3 => ColorComponents.RedGreenBlue, _ => ColorComponents.RedGreenBlueAlpha };
        if (jpeg) new ImageWriter().WriteJpg(data, w, h, c, fs, 90); else new ImageWriter().WritePng(data, w, h, c, fs);
    }

    [Fact]
    public void Image_folder_pretrain_and_inspect_count_and_name_broken_files()
    {
        string root = Path.Combine(dir, "images");
        int i = 0;
        foreach (var (cls, comps, jpeg, w, h) in new[] { ("a", 1, false, 20, 30), ("a", 3, false, 40, 40), ("a", 4, false, 28, 28), ("b", 3, true, 50, 35), ("b", 1, true, 64, 64), ("b", 3, false, 31, 17) })
            WriteImage(Path.Combine(root, cls, $"{i}.{(jpeg ? "jpg" : "png")}"), w, h, comps, jpeg, i++);
        WriteImage(Path.Combine(root, "b", "truncated.jpg"), 60, 60, 3, true, 99);
        var bytes = File.ReadAllBytes(Path.Combine(root, "b", "truncated.jpg"));
        File.WriteAllBytes(Path.Combine(root, "b", "truncated.jpg"), bytes.AsSpan(0, bytes.Length / 2).ToArray());
        File.WriteAllText(Path.Combine(root, "a", "text.png"), "not an image");

        var inspect = MaskworkProcess.Run("inspect", "--data", $"image-folder:{root}", "--json");
        Assert.True(inspect.ExitCode == 0, inspect.ToString());
        var ij = inspect.Json();
        Assert.Equal("image-folder", ij.GetProperty("reader").GetString());
        Assert.Equal(6, ij.GetProperty("samples").GetInt32());
        Assert.Equal(2, ij.GetProperty("skipped").GetInt32());
        var errors = ij.GetProperty("errors").EnumerateArray().Select(e => Path.GetFileName(e.GetProperty("file").GetString()!)).Order().ToArray();
        Assert.Equal(["text.png", "truncated.jpg"], errors);
        Assert.Equal(6, ij.GetProperty("shape").GetProperty("3x32x32").GetInt32());

        var run = MaskworkProcess.Run(Args(["pretrain", "--data", $"image-folder:{root}", "--steps", "3", "--out", Path.Combine(dir, "img-run"), "--json",
            "--set", "model.size=28", "--set", "model.channels=3", "--set", "model.mean=[0.5]"], Tiny));
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(2, run.Json().GetProperty("skipped_samples").GetInt32());
        Assert.Contains("truncated.jpg", run.Stderr);
        Assert.Contains("truncated.jpg", File.ReadAllText(Path.Combine(dir, "img-run", "log.txt")));
    }

    [Fact]
    public void Probe_ingest_embed_and_reconstruct_work_on_a_small_parquet_dataset()
    {
        string data = Path.Combine(dir, "fm-test");
        var ingest = MaskworkProcess.Run("ingest", "--reader", "fashion-mnist", "--in", "/usr/share/datasets/fashion-mnist", "--out", data, "--json");
        Assert.True(ingest.ExitCode == 0, ingest.ToString());
        Assert.Equal(70000, ingest.Json().GetProperty("samples").GetInt32());

        string run = Path.Combine(dir, "run");
        var pre = MaskworkProcess.Run(Args(["pretrain", "--data", $"parquet:{data}", "--steps", "5", "--out", run, "--json"], Tiny));
        Assert.True(pre.ExitCode == 0, pre.ToString());

        var probe = MaskworkProcess.Run("probe", "--run", run, "--method", "knn", "--json");
        Assert.True(probe.ExitCode == 0, probe.ToString());
        var pj = probe.Json();
        foreach (var key in new[] { "run", "method", "accuracy", "train_count", "test_count", "random_init" }) Assert.True(pj.TryGetProperty(key, out _), key);
        Assert.Equal(60000, pj.GetProperty("train_count").GetInt32());
        Assert.Equal(10000, pj.GetProperty("test_count").GetInt32());
        Assert.InRange(pj.GetProperty("accuracy").GetDouble(), 0.5, 1.0);

        var reconstruct = MaskworkProcess.Run("reconstruct", "--run", run, "--out", Path.Combine(dir, "r.png"), "--count", "4", "--json");
        Assert.True(reconstruct.ExitCode == 0, reconstruct.ToString());
        Assert.True(new FileInfo(Path.Combine(dir, "r.png")).Length > 100);

        var embed = MaskworkProcess.Run("embed", "--run", run, "--data", "fashion-mnist", "--out", Path.Combine(dir, "e.parquet"), "--json");
        Assert.True(embed.ExitCode == 0, embed.ToString());
        Assert.Equal(32, embed.Json().GetProperty("dim").GetInt32());
    }

    [Theory]
    [InlineData(2, "pretrain", "--steps", "x")]
    [InlineData(2, "pretrain", "--set", "nonsense")]
    [InlineData(2, "pretrain", "--set", "model.no_such_option=1", "--steps", "1")]
    [InlineData(1, "pretrain", "--recipe", "image/none")]
    [InlineData(1, "pretrain", "--data", "no-such-reader:/x", "--steps", "1")]
    [InlineData(1, "probe", "--run", "/nonexistent/run")]
    [InlineData(2, "frobnicate")]
    public void Bad_usage_and_bad_input_exit_with_a_one_line_reason(int code, params string[] args)
    {
        string[] full = args[0] == "pretrain" ? [.. args, "--out", Path.Combine(dir, Guid.NewGuid().ToString("N"))] : args;
        var r = MaskworkProcess.Run(full);
        Assert.True(r.ExitCode == code, r.ToString());
        Assert.False(string.IsNullOrWhiteSpace(r.Stderr));
        Assert.DoesNotContain("   at ", r.Stderr); // no stack traces for users
    }
}
