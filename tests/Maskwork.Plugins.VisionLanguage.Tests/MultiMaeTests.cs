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

    readonly string dir = Directory.CreateTempSubdirectory("mw-vl-multimae-").FullName;

    public void Dispose() => Directory.Delete(dir, true);

    [Fact]
    public void MultiMaeBuildsSplitsTheBudgetAndItsSummedLossFalls()
    {
        manual_seed(0);
        var parts = new MultiMaeRecipe().Build(Tiny, Models.Context());
        using var model = new MaskedModel(parts);
        Models.LossFalls(parts, model, (tokens, plan, result) =>
        {
            // Every sample shows exactly K = 10 real tokens over the three parts.
            var shown = cat(PartsVisible.Of(tokens, plan, MultiMaeObjective.PartNames).Shown, 1).sum(1);
            Assert.True(shown.eq(10).all().item<bool>(), $"visible per sample: {string.Join(",", shown.data<long>().ToArray())}");
            foreach (var key in new[] { "image_mse", "alpha_loss", "text_ce" }) Assert.True(result.Metrics!.ContainsKey(key), key);
        });

        using var _ = NewDisposeScope();
        var t = parts.Tokenizer.Tokenize(Models.Samples.Take(2).ToList(), CPU);
        Models.EncodesTheImageAloneAndRenders(parts, model, t);
        // Silhouette from RGB alone: every alpha pixel predicted, nothing of alpha or text shown.
        var objective = (MultiMaeObjective)parts.Objective;
        var none = MaskPlan.None(2, 16, CPU);
        var hideAll = (long n) => MaskPlan.FromDense(ones(2, n, dtype: ScalarType.Bool));
        var rgbOnly = none with { Parts = new Dictionary<string, MaskPlan> { ["image"] = none, ["alpha"] = hideAll(16), ["text"] = hideAll(8) } };
        var prediction = objective.Predict(t, rgbOnly, parts.Encoder.Encode(t, rgbOnly), out var visible);
        Assert.Equal([2L, 16, 16], prediction.AlphaLogits.shape);
        Assert.Equal(32L, cat(visible.Shown, 1).sum().item<long>());
    }

    Trainer NewTrainer(int steps)
    {
        manual_seed(3);
        var recipe = new MultiMaeRecipe();
        var parts = recipe.Build(Tiny, Models.Context());
        var train = recipe.Training with { Steps = steps, Batch = 8, WarmupSteps = 2, CheckpointEvery = steps + 1 };
        return new Trainer(new TrainerSetup(recipe.Name, parts, train, 3, CPU, ScalarType.Float32), new SampleSet(Models.Samples));
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
        var e = Assert.ThrowsAny<ArgumentException>(() => new MultiMaeRecipe().Build(Tiny, Models.Context(only)));
        Assert.Contains("plugin 'image'", e.Message);
        Assert.Throws<ArgumentException>(() => new MultiMaeRecipe().Build(Tiny with { AlphaLoss = "l3" }, Models.Context()));
    }
}
