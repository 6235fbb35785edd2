namespace Maskwork.Host.Tests;

/// <summary>Captioned images through `maskwork ingest`: the caption vocabulary is built at ingest, kept with the dataset, copied into runs.</summary>
public sealed class CaptionIngestTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("mw-vl-ingest-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(dir, true); } catch (IOException) { }
    }

    static readonly string[] Tiny =
    [
        "--batch", "4", "--set", "model.encoder_dim=32", "--set", "model.encoder_depth=1", "--set", "model.encoder_heads=2",
        "--set", "model.decoder_dim=16", "--set", "model.decoder_depth=1", "--set", "model.decoder_heads=2", "--json",
    ];

    /// <summary>A copy of 12 captioned Tux Paint stamps (test.sh installs tuxpaint-stamps-default).</summary>
    string Stamps()
    {
        string from = "/usr/share/tuxpaint/stamps/food", to = Path.Combine(dir, "stamps", "food");
        Directory.CreateDirectory(to);
        foreach (var png in Directory.EnumerateFiles(from, "*.png", SearchOption.AllDirectories).Where(p => File.Exists(Path.ChangeExtension(p, ".txt")))
                     .Order(StringComparer.Ordinal).Take(12))
        {
            File.Copy(png, Path.Combine(to, Path.GetFileName(png)));
            File.Copy(Path.ChangeExtension(png, ".txt"), Path.Combine(to, Path.GetFileNameWithoutExtension(png) + ".txt"));
        }
        return Path.GetDirectoryName(to)!;
    }

    static void Ok(MaskworkProcess.Result r) => Assert.True(r.ExitCode == 0, r.ToString());

    [Fact]
    public void Ingest_stores_the_vocabulary_a_run_copies_and_resume_and_probe_never_rebuild()
    {
        string stamps = Stamps(), dataset = Path.Combine(dir, "ds"), run = Path.Combine(dir, "run"), raw = Path.Combine(dir, "raw");
        var ingest = MaskworkProcess.Run("ingest", "--reader", "tuxpaint-stamps", "--in", stamps, "--out", dataset, "--json");
        Ok(ingest);
        Assert.Equal(12, ingest.Json().GetProperty("samples").GetInt32());
        Assert.Equal("vocab.json", Assert.Single(ingest.Json().GetProperty("files").EnumerateArray()).GetString());
        var ingested = File.ReadAllBytes(Path.Combine(dataset, "vocab.json"));

        // The vocabulary ingest built is the one a run on the raw stamps builds when it starts.
        Ok(MaskworkProcess.Run(["pretrain", "--recipe", "vl/m3ae", "--data", $"tuxpaint-stamps:{stamps}", "--steps", "1", "--out", raw, .. Tiny]));
        Assert.Equal(ingested, File.ReadAllBytes(Path.Combine(raw, "vocab.json")));

        // A run on the dataset copies it (the captions come back from the dataset: the run trains on image + text).
        var pretrain = MaskworkProcess.Run(["pretrain", "--recipe", "vl/m3ae", "--data", $"parquet:{dataset}", "--steps", "2", "--out", run, .. Tiny]);
        Ok(pretrain);
        Assert.Equal(2, pretrain.Json().GetProperty("steps").GetInt32());
        Assert.Equal(ingested, File.ReadAllBytes(Path.Combine(run, "vocab.json")));

        // With the dataset's copy gone, a new run says what to do; resume and probe use the run's own and leave it as it is.
        File.Delete(Path.Combine(dataset, "vocab.json"));
        var fresh = MaskworkProcess.Run(["pretrain", "--recipe", "vl/m3ae", "--data", $"parquet:{dataset}", "--steps", "1", "--out", Path.Combine(dir, "fresh"), .. Tiny]);
        Assert.NotEqual(0, fresh.ExitCode);
        Assert.Contains("has no vocab.json", fresh.Stderr);
        Assert.Contains("maskwork ingest", fresh.Stderr);
        var written = File.GetLastWriteTimeUtc(Path.Combine(run, "vocab.json"));
        Ok(MaskworkProcess.Run("resume", "--run", run, "--steps", "3", "--json"));
        Ok(MaskworkProcess.Run("probe", "--run", run, "--method", "knn", "--json"));
        Assert.Equal(ingested, File.ReadAllBytes(Path.Combine(run, "vocab.json")));
        Assert.Equal(written, File.GetLastWriteTimeUtc(Path.Combine(run, "vocab.json")));
        // inspect --verify names the missing companion file.
        var verify = MaskworkProcess.Run("inspect", "--data", $"parquet:{dataset}", "--verify");
        Assert.Equal(1, verify.ExitCode);
        Assert.Contains("vocab.json: listed in the manifest but missing", verify.Stdout + verify.Stderr);
    }
}
