using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Training;
using Maskwork.Plugins.PointCloud.Recipes;
using TorchSharp;
using static TorchSharp.torch;

namespace Maskwork.Plugins.PointCloud.Tests;

public sealed class ModelTests
{
    static readonly PointMaeOptions Tiny = new()
    {
        Points = 128, Groups = 16, GroupSize = 8, EncoderDim = 32, EncoderDepth = 1, EncoderHeads = 2,
        DecoderDim = 32, DecoderDepth = 1, DecoderHeads = 2, RotateDegrees = 0,
    };

    /// <summary>Two shapes (sphere surface, flat square) so the model has structure to learn.</summary>
    static List<Sample> Shapes(int count, int seed)
    {
        var rng = new Random(seed);
        var list = new List<Sample>();
        for (int s = 0; s < count; s++)
        {
            var v = new float[200 * 3];
            for (int i = 0; i < 200; i++)
            {
                if (s % 2 == 0)
                {
                    double z = rng.NextDouble() * 2 - 1, t = rng.NextDouble() * 2 * Math.PI, r = Math.Sqrt(1 - z * z);
                    (v[i * 3], v[i * 3 + 1], v[i * 3 + 2]) = ((float)(r * Math.Cos(t)), (float)(r * Math.Sin(t)), (float)z);
                }
                else (v[i * 3], v[i * 3 + 1], v[i * 3 + 2]) = ((float)rng.NextDouble(), (float)rng.NextDouble(), 0f);
            }
            list.Add(new Sample(v, [200, 3], s % 2, $"shape{s}"));
        }
        return list;
    }

    [Fact]
    public void Point_mae_encodes_visible_groups_only_and_reconstructs_masked_ones()
    {
        manual_seed(0);
        var recipe = new PointMaeRecipe();
        var parts = recipe.Build(Tiny, new BuildContext(CPU, new DataSpec("x", "")));
        var tokens = parts.Tokenizer.Tokenize(Shapes(4, 1), CPU);
        var plan = parts.Masker.Plan(tokens, new MaskContext(0, new Generator(1)));
        var encoded = parts.Encoder.Encode(tokens, plan);
        Assert.Equal([4, 6, 32], encoded.Latent.shape);   // int(16 · 0.4) = 6 visible groups
        var result = parts.Objective.Compute(tokens, plan, encoded);
        Assert.True(float.IsFinite(result.Loss.item<float>()) && result.Loss.item<float>() > 0);
        var recon = result.Reconstruction!;
        Assert.Equal(tokens.Tokens.shape, recon.shape);
        // Visible groups pass through unchanged; masked ones are predictions.
        var vis = Maskwork.Backend.Nn.TokenOps.Gather(recon, plan.Visible);
        Assert.True(vis.Same(Maskwork.Backend.Nn.TokenOps.Gather(tokens.Tokens, plan.Visible)));
        result.Loss.backward();
        var grads = ((nn.Module)parts.Encoder).parameters().Select(p => p.grad).ToList();
        Assert.All(grads, g => Assert.NotNull(g));

        // The renderer draws three columns of two views per sample.
        var (h, w, rgb) = parts.Renderer!.Render(tokens, plan, recon, parts.Tokenizer);
        Assert.Equal(h * w * 3, rgb.Length);
        Assert.True(rgb.Count(v => v < 100) > 200, "the picture has drawn points");
        new Maskwork.Backend.Visuals.RgbImage(w, h, rgb).SavePng(Path.Combine(Path.GetTempPath(), "maskwork-visuals-tests", "points.png")); // to look at
    }

    [Fact]
    public void Short_pretraining_lowers_the_chamfer_loss()
    {
        manual_seed(0);
        var recipe = new PointMaeRecipe();
        var parts = recipe.Build(Tiny, new BuildContext(CPU, new DataSpec("x", "")));
        var options = recipe.Training with { Steps = 40, Batch = 8, WarmupSteps = 4, CheckpointEvery = 0, Lr = 2e-3 };
        var losses = new List<double>();
        using (var trainer = new Trainer(new TrainerSetup(recipe.Name, parts, options, 3, CPU, ScalarType.Float32), new SampleSet(Shapes(32, 2))))
            trainer.Run(40, CancellationToken.None, r => losses.Add(r.Loss));
        Assert.Equal(40, losses.Count);
        Assert.All(losses, l => Assert.True(double.IsFinite(l)));
        Assert.True(losses.TakeLast(5).Average() < 0.5 * losses.Take(5).Average(), $"loss {losses.Take(5).Average():F4} → {losses.TakeLast(5).Average():F4}");
        // Augmentation follows the model's mode: off after eval().
        ((nn.Module)parts.Encoder).eval();
        var t = (Tokenization.PointGroupTokenizer)parts.Tokenizer;
        Assert.False(t.AugmentWhile!());
    }

    [Fact]
    public void The_plugin_registers_its_readers_and_recipe()
    {
        var registry = new Registry();
        new PointCloudPlugin().Register(registry);
        Assert.Equal(["fashion-mnist-points", "kitti", "mnist-points", "off", "pcd", "ply", "pointcloud", "points-parquet", "xyz"], registry.Readers.Order(StringComparer.Ordinal));
        Assert.DoesNotContain("parquet", registry.Readers);
        Assert.Equal(["points/point-mae"], registry.Recipes);
        Assert.Equal("points", new PointCloudPlugin().Info.Id);
    }

    sealed class Registry : IComponentRegistry
    {
        public List<string> Readers { get; } = [];
        public List<string> Recipes { get; } = [];
        public void AddReader(IDatasetReader reader) => Readers.Add(reader.Name);
        public void AddRecipe(IRecipe recipe) => Recipes.Add(recipe.Name);
    }
}
