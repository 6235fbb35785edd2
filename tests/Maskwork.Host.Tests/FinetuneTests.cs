using System.Text.Json;
using Maskwork.Backend.Training;
using StbImageWriteSharp;
using static TorchSharp.torch;

namespace Maskwork.Host.Tests;

/// <summary><c>maskwork finetune</c> end to end on a tiny labelled image folder.</summary>
public class FinetuneTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("mw-finetune-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(dir, true); } catch (IOException) { }
    }

    /// <summary>train/ and test/ splits of two classes: dark and bright noise images.</summary>
    string Images()
    {
        string root = Path.Combine(dir, "images");
        var rng = new Random(3);
        foreach (var (split, count) in new[] { ("train", 24), ("test", 8) })
            foreach (var (cls, lo) in new[] { ("dark", 0), ("bright", 128) })
                for (int i = 0; i < count; i++)
                {
                    var pixels = new byte[28 * 28];
                    for (int p = 0; p < pixels.Length; p++) pixels[p] = (byte)(lo + rng.Next(128));
                    string path = Path.Combine(root, split, cls, $"{i}.png");
                    Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                    using var fs = File.Create(path);
                    new ImageWriter().WritePng(pixels, 28, 28, ColorComponents.Grey, fs);
                }
        return root;
    }

    static readonly string[] Tiny =
    [
        "--set", "model.encoder_dim=32", "--set", "model.encoder_depth=2", "--set", "model.encoder_heads=2",
        "--set", "model.decoder_dim=16", "--set", "model.decoder_depth=1", "--set", "model.decoder_heads=2", "--batch", "16",
    ];

    static Dictionary<string, Tensor> Encoder(string checkpoint) =>
        Checkpoint.Load(checkpoint).Tensors.Where(kv => kv.Key.StartsWith("model.encoder.")).ToDictionary(kv => kv.Key, kv => kv.Value);

    [Fact]
    public void Finetune_writes_its_folder_reports_json_appends_the_evaluation_and_starts_from_the_right_weights()
    {
        string data = Images(), run = Path.Combine(dir, "run");
        var pre = MaskworkProcess.Run([.. new[] { "pretrain", "--data", $"image-folder:{data}", "--steps", "6", "--out", run, "--json" }, .. Tiny]);
        Assert.True(pre.ExitCode == 0, pre.ToString());

        var ft = MaskworkProcess.Run("finetune", "--run", run, "--epochs", "2", "--name", "tiny", "--set", "finetune.batch=8", "--json");
        Assert.True(ft.ExitCode == 0, ft.ToString());
        var j = ft.Json();
        foreach (var key in new[] { "run", "parent", "accuracy", "last_accuracy", "best_epoch", "epochs", "from_scratch", "train_count", "test_count" })
            Assert.True(j.TryGetProperty(key, out _), key);
        string folder = Path.Combine(run, "finetune-tiny");
        Assert.Equal(folder, j.GetProperty("run").GetString());
        Assert.Equal(Path.GetFullPath(run), j.GetProperty("parent").GetString());
        Assert.Equal(2, j.GetProperty("epochs").GetInt32());
        Assert.False(j.GetProperty("from_scratch").GetBoolean());
        Assert.Equal(43, j.GetProperty("train_count").GetInt32()); // 48 train images less the seeded 10 % hold-out
        Assert.Equal(5, j.GetProperty("val_count").GetInt32());
        Assert.Equal(16, j.GetProperty("test_count").GetInt32());
        Assert.InRange(j.GetProperty("accuracy").GetDouble(), 0, 1);
        foreach (var file in new[] { "config.json", "metrics.parquet", "loss.png", "accuracy.png", "log.txt", "checkpoints/last.ckpt", "checkpoints/best.ckpt" })
            Assert.True(File.Exists(Path.Combine(folder, file)), file);

        // A finished fine-tune resumes to the same result; a second one under the same name is refused.
        var again = MaskworkProcess.Run("finetune", "--resume", folder, "--json");
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Equal(j.GetProperty("accuracy").GetDouble(), again.Json().GetProperty("accuracy").GetDouble());
        Assert.Equal(1, MaskworkProcess.Run("finetune", "--run", run, "--epochs", "1", "--name", "tiny").ExitCode);
        Assert.Equal(2, MaskworkProcess.Run("finetune", "--run", run, "--set", "finetune.no_such=1").ExitCode);

        // With a zero learning rate the weights stay where they started: the pretrained encoder, or a random one.
        var parent = Encoder(Path.Combine(run, "checkpoints", "last.ckpt"));
        foreach (var scratch in new[] { false, true })
        {
            string name = scratch ? "lr0-scratch" : "lr0";
            var r = MaskworkProcess.Run(["finetune", "--run", run, "--epochs", "1", "--name", name, "--set", "finetune.lr=0", "--json", .. scratch ? new[] { "--from-scratch" } : []]);
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal(scratch, r.Json().GetProperty("from_scratch").GetBoolean());
            var start = Encoder(Path.Combine(run, $"finetune-{name}", "checkpoints", "last.ckpt"));
            Assert.Equal(parent.Keys.Order(), start.Keys.Order());
            bool same = parent.All(kv => kv.Value.shape.SequenceEqual(start[kv.Key].shape) && kv.Value.eq(start[kv.Key]).all().item<bool>());
            Assert.True(same != scratch, scratch ? "the from-scratch encoder equals the pretrained one" : "the fine-tune did not start from the pretrained encoder");
        }

        var lines = File.ReadAllLines(Path.Combine(run, "evaluations.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(3, lines.Count(l => l.GetProperty("kind").GetString() == "finetune")); // tiny, lr0, lr0-scratch: the no-op resume adds none
        Assert.Contains(lines, l => l.GetProperty("run").GetString() == folder && l.GetProperty("accuracy").GetDouble() == j.GetProperty("accuracy").GetDouble());
    }
}
