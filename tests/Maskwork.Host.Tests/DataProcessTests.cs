using System.Diagnostics;
using System.Text.Json;
using StbImageWriteSharp;

namespace Maskwork.Host.Tests;

/// <summary>Datasets through the real `maskwork` process: the in-memory limit, corrupt shards, inspect --verify.</summary>
public sealed class DataProcessTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("mw-data-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(dir, true); } catch (IOException) { }
    }

    static readonly string[] Tiny =
    [
        "--set", "model.encoder_dim=32", "--set", "model.encoder_depth=1", "--set", "model.encoder_heads=2",
        "--set", "model.decoder_dim=16", "--set", "model.decoder_depth=1", "--set", "model.decoder_heads=2", "--batch", "8",
        "--set", "model.size=32", "--set", "model.channels=3", "--set", "model.mean=[0.5]", "--set", "model.patch=8",
    ];

    static MaskworkProcess.Result Run(IReadOnlyDictionary<string, string>? env, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = Path.GetTempPath() };
        psi.ArgumentList.Add(Path.Combine(MaskworkProcess.HostFolder, "maskwork.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5))) { p.Kill(true); throw new TimeoutException("maskwork " + string.Join(' ', args)); }
        return new MaskworkProcess.Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>48 random 40×40 RGB PNGs in two classes: 48 × 32×32×3 floats ≈ 0.6 MB in memory.</summary>
    string Images()
    {
        string root = Path.Combine(dir, "images");
        var rng = new Random(4);
        for (int i = 0; i < 48; i++)
        {
            var data = new byte[40 * 40 * 3];
            rng.NextBytes(data);
            string path = Path.Combine(root, i % 2 == 0 ? "cat" : "dog", $"{i:D2}.png");
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            using var fs = File.Create(path);
            new ImageWriter().WritePng(data, 40, 40, ColorComponents.RedGreenBlue, fs);
        }
        return root;
    }

    [Fact]
    public void A_raw_folder_over_the_memory_limit_is_refused_with_the_ingest_command_and_streams_once_ingested()
    {
        string root = Images();
        var fits = Run(null, [.. (string[])["pretrain", "--data", $"image-folder:{root}", "--steps", "2", "--out", Path.Combine(dir, "r1"), "--json"], .. Tiny, "--set", "data.max_in_memory_mb=1"]);
        Assert.True(fits.ExitCode == 0, fits.ToString()); // 0.6 MB fits in 1 MB

        var tooBig = Run(null, [.. (string[])["inspect", "--data", $"image-folder:{root}", "--set", "data.size=128"], "--set", "data.max_in_memory_mb=1"]);
        Assert.True(tooBig.ExitCode == 1, tooBig.ToString());
        Assert.Contains($"maskwork ingest --reader image-folder --in {root}", tooBig.Stderr);
        Assert.Contains("data.max_in_memory_mb=1", tooBig.Stderr);
        Assert.DoesNotContain("   at ", tooBig.Stderr);

        string ds = Path.Combine(dir, "ds");
        var ingest = Run(null, "ingest", "--reader", "image-folder", "--in", root, "--out", ds, "--set", "data.size=128", "--set", "data.group_rows=8", "--json");
        Assert.True(ingest.ExitCode == 0, ingest.ToString());
        Assert.Equal(48, ingest.Json().GetProperty("samples").GetInt32());
        var streamed = Run(null, [.. (string[])["pretrain", "--data", $"parquet:{ds}", "--steps", "2", "--out", Path.Combine(dir, "r2"), "--json"], .. Tiny,
            "--set", "model.size=128", "--set", "model.patch=32", "--set", "data.max_in_memory_mb=1", "--set", "data.cache_mb=1"]);
        Assert.True(streamed.ExitCode == 0, streamed.ToString());
    }

    [Fact]
    public void A_corrupted_shard_is_named_skipped_and_counted_and_fail_fast_exits_1()
    {
        string root = Images();
        string ds = Path.Combine(dir, "ds");
        var ingest = Run(null, "ingest", "--reader", "image-folder", "--in", root, "--out", ds, "--set", "data.size=32", "--set", "data.group_rows=8", "--json");
        Assert.True(ingest.ExitCode == 0, ingest.ToString());
        var ok = Run(null, "inspect", "--data", $"parquet:{ds}", "--verify", "--json");
        Assert.True(ok.ExitCode == 0, ok.ToString());
        var okJson = ok.Json();
        Assert.True(okJson.GetProperty("ok").GetBoolean());
        Assert.Equal(48, okJson.GetProperty("samples").GetInt32());
        Assert.Equal(1, okJson.GetProperty("format_version").GetInt32());
        Assert.Equal("image-folder", okJson.GetProperty("source_reader").GetString());

        string shard = Directory.GetFiles(ds, "part-*.parquet").Single();
        var bytes = File.ReadAllBytes(shard);
        for (int i = 0; i < 32; i++) bytes[300 + i] ^= 0x3c; // inside the first row group's values; same size
        File.WriteAllBytes(shard, bytes);

        var verify = Run(null, "inspect", "--data", $"parquet:{ds}", "--verify", "--json");
        Assert.True(verify.ExitCode == 1, verify.ToString());
        var vj = verify.Json();
        Assert.False(vj.GetProperty("ok").GetBoolean());
        Assert.Equal(shard, vj.GetProperty("bad_shards")[0].GetProperty("file").GetString());
        Assert.Contains(Path.GetFileName(shard), verify.Stderr);

        string[] pretrain = [.. (string[])["pretrain", "--data", $"parquet:{ds}", "--steps", "6", "--json"], .. Tiny]; // 6 × 8 = one epoch: every row group is read
        var skipped = Run(null, [.. pretrain, "--out", Path.Combine(dir, "skip")]);
        Assert.True(skipped.ExitCode == 0, skipped.ToString());
        Assert.Equal(8, skipped.Json().GetProperty("skipped_samples").GetInt32()); // the bad row group's 8 rows
        Assert.Contains(shard, skipped.Stderr + File.ReadAllText(Path.Combine(dir, "skip", "log.txt")));

        var failFast = Run(new Dictionary<string, string> { ["Maskwork__FailOnBadInput"] = "true" }, [.. pretrain, "--out", Path.Combine(dir, "fail")]);
        Assert.True(failFast.ExitCode == 1, failFast.ToString());
        Assert.Contains(shard, failFast.Stderr);
        Assert.DoesNotContain("   at ", failFast.Stderr);
    }
}
