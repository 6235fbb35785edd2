using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Nn;
using Maskwork.Backend.Training;
using Maskwork.Plugins.Voxel.Model;
using Maskwork.Plugins.Voxel.Readers;
using Maskwork.Plugins.Voxel.Recipes;
using Maskwork.Plugins.Voxel.Tokenization;
using Maskwork.Backend.Visuals;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Voxel.Tests;

/// <summary>Tokenizer round trips and keyed rotations, the occupancy masker, training, exact resume, pictures, bad options.</summary>
public sealed class ModelTests : IDisposable
{
    readonly string root = Directory.CreateTempSubdirectory("mw-voxel-model-").FullName;
    public void Dispose() => Directory.Delete(root, true);

    /// <summary>A tiny configuration: 16³ grids of 4³ patches (64 tokens), 48-d × 1 encoder.</summary>
    static readonly VoxelMaeOptions Tiny = VoxelMaeOptions.Mae3d() with
    {
        Grid = 16, EncoderDim = 48, EncoderDepth = 1, EncoderHeads = 2, DecoderDim = 24, DecoderDepth = 1, DecoderHeads = 2, MaskRatio = 0.75,
    };

    static readonly Lazy<List<Sample>> Shapes = new(() =>
    {
        var reader = new VoxelReader(VoxelInput.MeshVoxels);
        var spec = new DataSpec("mesh-voxels", Path.Combine(Writers.Shared("shapes"), "led_tht")) { Options = new Dictionary<string, string> { ["grid"] = "16", ["channels"] = "rgba" } };
        return reader.ReadAsync(spec, new DataIssueLog(), CancellationToken.None).ToBlockingEnumerable().Select((s, i) => s with { Index = i }).ToList();
    });

    /// <summary>The LED shapes as occupancy samples (α of the RGB-α grids).</summary>
    static List<Sample> Occupancy() => Shapes.Value.Select(s =>
    {
        var v = s.Values;
        var occ = new float[16 * 16 * 16];
        Array.Copy(v, 3 * 16 * 16 * 16, occ, 0, occ.Length);
        return new Sample(occ, [1, 16, 16, 16], s.Label, s.Source) { Index = s.Index, Split = s.Split };
    }).ToList();

    static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    static ModelParts Build(VoxelMaeRecipe recipe, VoxelMaeOptions options, int seed)
    {
        manual_seed(seed);
        return recipe.Build(options, new BuildContext(CPU, new DataSpec("mesh-voxels", "")));
    }

    [Fact]
    public void Tokens_detokenize_to_the_grid_and_rotations_follow_the_sample_key()
    {
        var samples = Occupancy();
        var parts = Build(VoxelMaeRecipe.Mae3d(), Tiny, 1);
        var tokenizer = (VoxelTokenizer)parts.Tokenizer;
        tokenizer.AugmentWhile = () => false;
        var tokens = tokenizer.Tokenize(samples.Take(3).ToList(), CPU);
        Assert.Equal(new GridLayout([4, 4, 4]) { Axes = "z,y,x" }, tokens.Layout);
        Assert.Equal([3L, 64, 64], tokens.Tokens.shape);
        var back = tokenizer.Detokenize(tokens.Tokens, tokens);
        Assert.Equal(samples.Take(3).SelectMany(s => s.Values).ToArray(), back.flatten().data<float>().ToArray());

        tokenizer.AugmentWhile = () => true;
        var a = tokenizer.Tokenize([samples[2]], CPU).Tokens;
        var inOtherBatch = tokenizer.Tokenize([samples[0], samples[2]], CPU).Tokens[1];
        Assert.True(Same(a[0], inOtherBatch), "the same (seed, epoch, index) turns the same way in any batch");
        var nextEpoch = tokenizer.Tokenize([samples[2] with { Epoch = 1 }], CPU).Tokens;
        Assert.False(Same(a, nextEpoch), "another epoch, another angle");
        // A quarter turn moves voxels without changing their values or (much) their count; the up axis stays put.
        var quarter = VoxelTokenizer.Rotate([samples[2]], [Math.PI / 2])[0];
        var original = tensor(samples[2].Values, [16, 16, 16]);
        var turned = tensor(quarter.Values, [16, 16, 16]);
        Assert.Equal(original.sum().item<float>(), turned.sum().item<float>());
        Assert.True(Same(original.sum([1L, 2L]), turned.sum([1L, 2L])), "each horizontal slice keeps its voxels");
        Assert.True(Same(turned, original.rot90(1, (1, 2))) || Same(turned, original.rot90(-1, (1, 2))));
    }

    [Fact]
    public void The_occupancy_masker_keeps_a_fixed_count_and_prefers_occupied_patches()
    {
        var samples = Occupancy();
        var parts = Build(VoxelMaeRecipe.Mae3d(), Tiny with { MaskRatio = 0.875, OccupiedWeight = 8 }, 2);
        ((VoxelTokenizer)parts.Tokenizer).AugmentWhile = () => false;
        var tokens = parts.Tokenizer.Tokenize(samples, CPU) with { SampleKeys = arange(samples.Count) };
        var masker = (OccupancyMasker)parts.Masker;
        var plan = masker.Plan(tokens, new MaskContext(5, new Generator(1)) { Seed = 9 });
        Assert.Equal(8, plan.VisibleCount);
        Assert.Equal(56, plan.MaskedCount);
        var all = cat([plan.Visible, plan.Masked], 1).sort(1).Values;
        Assert.True(Same(all, arange(64).expand(samples.Count, 64)), "visible and masked are disjoint and complete");
        var occupied = masker.Occupied(tokens).to_type(ScalarType.Float32);
        double visibleShare = occupied.gather(1, plan.Visible).mean().item<float>(), overall = occupied.mean().item<float>();
        Assert.True(visibleShare > overall + 0.2, $"occupied share: visible {visibleShare:F2}, all {overall:F2}");
        var again = masker.Plan(tokens, new MaskContext(5, new Generator(77)) { Seed = 9 });
        Assert.True(Same(plan.Visible, again.Visible), "the keys, not the generator, decide");
        // Weight 1 is plain random masking: the visible share of occupied patches is then about the overall share.
        var plain = new OccupancyMasker(new Backend.Masking.MaskRatio(0.875), 1, 0.5f);
        double plainShare = 0;
        for (int step = 0; step < 20; step++) plainShare += occupied.gather(1, plain.Plan(tokens, new MaskContext(step, new Generator(1)) { Seed = 9 }).Visible).mean().item<float>() / 20;
        Assert.InRange(plainShare, overall - 0.08, overall + 0.08);
    }

    [Fact]
    public void Resume_from_a_checkpoint_retraces_an_uninterrupted_run()
    {
        var recipe = VoxelMaeRecipe.Mae3d();
        var data = new SampleSet(Occupancy());
        var train = recipe.Training with { Steps = 10, Batch = 8, WarmupSteps = 2, CheckpointEvery = 100 };
        Trainer Make() => new(new TrainerSetup("voxel/mae3d", Build(recipe, Tiny, 7), train, 7, CPU, ScalarType.Float32), data);
        var losses = new List<double>();
        using var straight = Make();
        straight.Run(10, CancellationToken.None, r => losses.Add(r.Loss));
        string path = Path.Combine(root, "half.ckpt");
        using (var first = Make())
        {
            first.Run(5, CancellationToken.None);
            first.Save(path, 0);
        }
        var resumed = new List<double>();
        using var second = Make();
        second.Load(path);
        Assert.Equal(5, second.Step);
        second.Run(10, CancellationToken.None, r => resumed.Add(r.Loss));
        Assert.Equal(losses[5..], resumed);
        Assert.True(straight.Optimizer.Parameters.allclose(second.Optimizer.Parameters, rtol: 0, atol: 0));
    }

    [Fact]
    public void Both_recipes_learn_and_the_isometric_sheet_shows_input_masked_and_reconstruction()
    {
        foreach (var (recipe, options, data) in new[]
        {
            (VoxelMaeRecipe.Mae3d(), Tiny, Occupancy()),
            (VoxelMaeRecipe.NerfMae(), VoxelMaeOptions.NerfMae() with { Grid = 16, EncoderDim = 48, EncoderDepth = 1, EncoderHeads = 2, DecoderDim = 24, DecoderDepth = 1, DecoderHeads = 2 }, Shapes.Value),
        })
        {
            var parts = Build(recipe, options, 3);
            var train = recipe.Training with { Steps = 40, Batch = 8, WarmupSteps = 4, Lr = 2e-3 };
            using var trainer = new Trainer(new TrainerSetup(recipe.Name, parts, train, 3, CPU, ScalarType.Float32), new SampleSet(data));
            var losses = new List<double>();
            trainer.Run(40, CancellationToken.None, r => losses.Add(r.Loss));
            Assert.True(losses.Skip(35).Average() < 0.8 * losses.Take(5).Average(), $"{recipe.Name}: loss {losses.Take(5).Average():F4} → {losses.Skip(35).Average():F4}");

            trainer.Model.eval();
            var tokens = parts.Tokenizer.Tokenize(data.Take(2).ToList(), CPU) with { SampleKeys = arange(2L) };
            var plan = parts.Masker.Plan(tokens, new MaskContext(0, new Generator(1)) { Seed = 1 });
            using var _ = no_grad();
            var result = parts.Objective.Compute(tokens, plan, parts.Encoder.Encode(tokens, plan));
            var (h, w, rgb) = parts.Renderer!.Render(tokens, plan, result.Reconstruction!, parts.Tokenizer);
            Assert.Equal(h * w * 3, rgb.Length);
            Assert.True(w > 3 * 2 * 16 * 3 && h > 2 * 2 * 16 * 3, $"{w}x{h}: three columns, two rows of 16³ views");
            var image = new RgbImage(w, h, rgb);
            image.SavePng(Path.Combine(root, recipe.Name.Replace('/', '-') + ".png"));
            if (Environment.GetEnvironmentVariable("MW_VOXEL_PICTURES") is { } dir) image.SavePng(Path.Combine(dir, recipe.Name.Replace('/', '-') + ".png"));
            Assert.True(rgb.Count(b => b < 200) > 2000, "voxels are drawn");
        }
    }

    [Fact]
    public void The_nerf_loss_is_rgb_mse_on_occupied_plus_alpha_mse_with_occupied_voxels_weighted()
    {
        var options = VoxelMaeOptions.NerfMae() with { Grid = 16, EncoderDim = 48, EncoderDepth = 1, EncoderHeads = 2, DecoderDim = 24, DecoderDepth = 1, DecoderHeads = 2 };
        foreach (double w in new[] { 1.0, 8.0 })
        {
            var parts = Build(VoxelMaeRecipe.NerfMae(), options with { PositiveWeight = w }, 4);
            ((VoxelTokenizer)parts.Tokenizer).AugmentWhile = () => false;
            var tokens = parts.Tokenizer.Tokenize(Shapes.Value.Take(3).ToList(), CPU) with { SampleKeys = arange(3L) };
            var plan = parts.Masker.Plan(tokens, new MaskContext(0, new Generator(1)) { Seed = 1 });
            using var _ = no_grad();
            var encoded = parts.Encoder.Encode(tokens, plan);
            var objective = (VoxelMaeObjective)parts.Objective;
            double loss = objective.Compute(tokens, plan, encoded).Loss.item<float>();
            // By hand, per sample over its masked voxels: RGB MSE where α > 0.01, α error weighted w where α > 0.01.
            var p = TokenOps.Gather(objective.PredictAll(tokens, plan, encoded), plan.Masked).view(3, -1, 4).to_type(ScalarType.Float64);
            var t = TokenOps.Gather(tokens.Tokens, plan.Masked).view(3, -1, 4).to_type(ScalarType.Float64);
            double expected = 0;
            for (int b = 0; b < 3; b++)
            {
                var pa = p[b].data<double>().ToArray();
                var ta = t[b].data<double>().ToArray();
                double rgb = 0, alpha = 0; int occupied = 0, voxels = pa.Length / 4;
                for (int v = 0; v < voxels; v++)
                {
                    bool occ = ta[4 * v + 3] > 0.01;
                    double e = 0;
                    for (int c = 0; c < 3; c++) e += (pa[4 * v + c] - ta[4 * v + c]) * (pa[4 * v + c] - ta[4 * v + c]) / 3;
                    if (occ) { rgb += e; occupied++; }
                    double d = pa[4 * v + 3] - ta[4 * v + 3];
                    alpha += d * d * (occ ? w : 1);
                }
                Assert.True(occupied > 0, "the LED shapes have occupied masked voxels");
                expected += (rgb / occupied + alpha / voxels) / 3;
            }
            Assert.Equal(expected, loss, 1e-4);
        }
    }

    [Fact]
    public void The_isometric_view_paints_nearer_cubes_over_farther_ones()
    {
        var grid = zeros(4, 4, 4, dtype: ScalarType.Bool);
        grid[0, 0, 0] = tensor(true);
        var one = VoxelRenderer.Isometric(grid, null, null, null, 4);
        int drawn = one.Pixels.Count(b => b != 255) / 3;
        Assert.InRange(drawn, 40, 64);                                     // a 2a × 2a sprite's hexagon (3/4 of 64)
        // Top, left and right faces have three different shades.
        var shades = new HashSet<byte>();
        for (int i = 0; i < one.Pixels.Length; i += 3) if (one.Pixels[i] != 255) shades.Add(one.Pixels[i]);
        Assert.True(shades.Count >= 3);
        var hidden = grid.clone();
        hidden[1, 1, 1] = tensor(true);                                    // in front of and above (0,0,0)
        var extra = zeros(4, 4, 4, dtype: ScalarType.Bool);
        extra[0, 3, 3] = tensor(true);
        var both = VoxelRenderer.Isometric(hidden, null, extra, null, 4);
        Assert.True(both.Pixels.Count(b => b != 255) / 3 > drawn);
    }

    [Fact]
    public void Bad_recipe_options_are_refused_with_a_reason()
    {
        var ctx = new BuildContext(CPU, new DataSpec("mesh-voxels", ""));
        var mae = VoxelMaeRecipe.Mae3d();
        Assert.Contains("multiple of model.patch", Assert.Throws<ArgumentException>(() => mae.Build(Tiny with { Grid = 18 }, ctx)).Message);
        Assert.Contains("time axis", Assert.Throws<ArgumentException>(() => mae.Build(Tiny with { Masker = "tube" }, ctx)).Message);
        Assert.Contains("multiples of 6", Assert.Throws<ArgumentException>(() => mae.Build(Tiny with { EncoderDim = 50 }, ctx)).Message);
        Assert.Contains("rgba", Assert.Throws<ArgumentException>(() => VoxelMaeRecipe.NerfMae().Build(Tiny, ctx)).Message);
        Assert.Contains("known", Assert.Throws<ArgumentException>(() => mae.Build(Tiny with { Masker = "nope" }, ctx)).Message);
        // 3-D block masks (NeRF-MAE's cubes of 2×2×2 tokens) build and hide the ratio.
        var parts = Build(mae, Tiny with { Masker = "block", BlockTokens = 2 }, 0);
        ((VoxelTokenizer)parts.Tokenizer).AugmentWhile = () => false;
        var tokens = parts.Tokenizer.Tokenize(Occupancy().Take(1).ToList(), CPU);
        Assert.Equal(48, parts.Masker.Plan(tokens, new MaskContext(0, new Generator(1)) { Seed = 1 }).MaskedCount);
    }
}
