using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Training;
using Maskwork.Plugins.VisionLanguage.Recipes;
using static TorchSharp.torch;

namespace Maskwork.Plugins.VisionLanguage.Tests;

public class MultiMaeTests : IDisposable
{
    static readonly MultiMaeOptions Tiny = new()
    {
        Size = 16, Patch = 4, TextLength = 8, Budget = 10, EncoderDim = 32, EncoderDepth = 1, EncoderHeads = 2, AdapterDim = 32, AdapterDepth = 1, AdapterHeads = 2,
    };

    static readonly DataSpec Spec = new("tuxpaint-stamps", "") { Split = "train", Options = new Dictionary<string, string> { ["size"] = "16" } };
    static readonly Lazy<List<Sample>> Samples = new(() => Stamps.Read(Spec, new()).Take(32).ToList());
    readonly string dir = Directory.CreateTempSubdirectory("mw-vl-multimae-").FullName;

    public void Dispose() => Directory.Delete(dir, true);

    [Fact]
    public void MultiMaeBuildsSplitsTheBudgetAndItsSummedLossFalls()
    {
        manual_seed(0);
        var samples = Samples.Value;
        var parts = new MultiMaeRecipe().Build(Tiny, new BuildContext(CPU, Spec) { Tokenizers = Catalog.Both });
        using var model = new MaskedModel(parts);
        var optimizer = optim.AdamW(model.parameters(), lr: 3e-3);
        double first = 0, last = 0;
        for (int step = 0; step < 60; step++)
        {
            using var scope = NewDisposeScope();
            var tokens = parts.Tokenizer.Tokenize(samples, CPU) with { SampleKeys = arange(32L) };
            var plan = parts.Masker.Plan(tokens, new MaskContext(step, new Generator((ulong)step)) { Seed = 1 });
            // Every sample shows exactly K = 10 real tokens over the three parts.
            var set = PartsVisible.Of(tokens, plan, MultiMaeObjective.PartNames);
            var shown = cat(set.Shown, 1).sum(1);
            Assert.True(shown.eq(10).all().item<bool>(), $"visible per sample: {string.Join(",", shown.data<long>().ToArray())}");
            var result = model.Forward(tokens, plan);
            optimizer.zero_grad();
            result.Loss.backward();
            optimizer.step();
            double loss = result.Loss.item<float>();
            Assert.True(double.IsFinite(loss));
            foreach (var key in new[] { "image_mse", "alpha_loss", "text_ce" }) Assert.True(result.Metrics!.ContainsKey(key), key);
            if (step < 5) first += loss / 5;
            if (step >= 55) last += loss / 5;
            Assert.Equal([32L, 16, 48], result.Reconstruction!.shape);
        }
        Assert.True(last < 0.8 * first, $"loss {first:F3} → {last:F3}");

        using var _ = NewDisposeScope();
        var t = parts.Tokenizer.Tokenize(samples.Take(2).ToList(), CPU);
        // A probe's plan (no parts) encodes RGB alone: 16 patches.
        Assert.Equal([2L, 16, 32], parts.Encoder.Encode(t, MaskPlan.None(2, t.TokenCount, CPU)).Latent.shape);
        // Silhouette from RGB alone: every alpha pixel predicted, nothing of alpha or text shown.
        var objective = (MultiMaeObjective)parts.Objective;
        var none = MaskPlan.None(2, 16, CPU);
        var hideAll = (long n) => MaskPlan.FromDense(ones(2, n, dtype: ScalarType.Bool));
        var rgbOnly = none with { Parts = new Dictionary<string, MaskPlan> { ["image"] = none, ["alpha"] = hideAll(16), ["text"] = hideAll(8) } };
        var prediction = objective.Predict(t, rgbOnly, parts.Encoder.Encode(t, rgbOnly), out var visible);
        Assert.Equal([2L, 16, 16], prediction.AlphaLogits.shape);
        Assert.Equal(32L, cat(visible.Shown, 1).sum().item<long>());
        // The reconstruction picture renders (RGB, alpha and caption columns).
        var keyed = t with { SampleKeys = arange(2L) };
        var plan2 = parts.Masker.Plan(keyed, new MaskContext(0, new Generator(0)) { Seed = 1 });
        var r = model.Forward(keyed, plan2);
        var (h, w, rgb) = parts.Renderer!.Render(keyed, plan2, r.Reconstruction!, parts.Tokenizer);
        Assert.Equal(h * w * 3, rgb.Length);
    }

    Trainer NewTrainer(int steps)
    {
        manual_seed(3);
        var recipe = new MultiMaeRecipe();
        var parts = recipe.Build(Tiny, new BuildContext(CPU, Spec) { Tokenizers = Catalog.Both });
        var train = recipe.Training with { Steps = steps, Batch = 8, WarmupSteps = 2, CheckpointEvery = steps + 1 };
        return new Trainer(new TrainerSetup(recipe.Name, parts, train, 3, CPU, ScalarType.Float32), new SampleSet(Samples.Value));
    }

    [Fact]
    public void MultiMaeResumesExactly()
    {
        var losses = new List<double>();
        using var straight = NewTrainer(8);
        straight.Run(8, CancellationToken.None, r => losses.Add(r.Loss));

        string path = Path.Combine(dir, "half.ckpt");
        using (var first = NewTrainer(8))
        {
            first.Run(4, CancellationToken.None);
            first.Save(path, 0);
        }
        var resumed = new List<double>();
        using var second = NewTrainer(8);
        second.Load(path);
        Assert.Equal(4, second.Step);
        second.Run(8, CancellationToken.None, r => resumed.Add(r.Loss));
        Assert.Equal(losses[^1], resumed[^1], 6);
        Assert.True(straight.Optimizer.Parameters.allclose(second.Optimizer.Parameters, rtol: 0, atol: 1e-5));
    }

    [Fact]
    public void MultiMaeNamesTheMissingTokenizerPlugin()
    {
        var only = new Catalog(new Text.TextTokenizerFactory());
        var e = Assert.ThrowsAny<ArgumentException>(() => new MultiMaeRecipe().Build(Tiny, new BuildContext(CPU, Spec) { Tokenizers = only }));
        Assert.Contains("plugin 'image'", e.Message);
        Assert.Throws<ArgumentException>(() => new MultiMaeRecipe().Build(Tiny with { AlphaLoss = "l3" }, new BuildContext(CPU, Spec) { Tokenizers = Catalog.Both }));
    }
}
