using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Training;
using Maskwork.Plugins.Volume.Readers;
using Maskwork.Plugins.Volume.Recipes;
using Maskwork.Plugins.Volume.Tokenization;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Volume.Tests;

/// <summary>Crops, the 3-D tokenizer, the recipe: determinism by key, round trips, exact resume, training from Parquet.</summary>
public sealed class ModelTests : IDisposable
{
    readonly string root = Directory.CreateTempSubdirectory("mw-volume-model-").FullName;
    public void Dispose() => Directory.Delete(root, true);

    /// <summary>A tiny recipe configuration: 16³ crops of 8³ patches (8 tokens), 48-d × 1 encoder.</summary>
    static readonly Mae3dOptions Tiny = Mae3dOptions.Cpu() with
    {
        Crop = [16, 16, 16], EncoderDim = 48, EncoderDepth = 1, EncoderHeads = 2, DecoderDim = 24, DecoderDepth = 1, DecoderHeads = 2,
    };

    static async Task<List<Sample>> Anatomical(Mae3dRecipe recipe, Mae3dOptions options)
    {
        var spec = new DataSpec("nifti", ReaderTests.Shared("medical/anatomical.nii")) { Options = recipe.DataOptions(options) };
        var list = new List<Sample>();
        await foreach (var s in new NiftiReader().ReadAsync(spec, new DataIssueLog(), CancellationToken.None)) list.Add(s);
        return list;
    }

    static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    static Sample Volume(int z, int y, int x, long index, int epoch = 0) =>
        new(Enumerable.Range(0, z * y * x).Select(i => (float)i).ToArray(), [1, z, y, x], null, "synthetic") { Index = index, Epoch = epoch };

    [Fact]
    public void Random_crops_follow_the_sample_key_and_centre_crops_are_fixed()
    {
        var crops = new VolumeCrops([8, 8, 8], 42, new CropAugment());
        var a = crops.Apply([Volume(20, 24, 28, 3)], random: true);
        var again = crops.Apply([Volume(1, 1, 1, 9), Volume(20, 24, 28, 3)], random: true);
        Assert.True(Same(a[0], again[1]), "the same (seed, epoch, index) gives the same crop in any batch position");
        var otherEpoch = crops.Apply([Volume(20, 24, 28, 3, epoch: 1)], random: true);
        Assert.False(Same(a[0], otherEpoch[0]), "another epoch gives another crop");
        Assert.False(Same(a[0], new VolumeCrops([8, 8, 8], 43, new CropAugment()).Apply([Volume(20, 24, 28, 3)], true)[0]), "another seed, another crop");
        // Centre crop: origin ((20 − 8)/2, (24 − 8)/2, (28 − 8)/2) = (6, 8, 10).
        var centre = crops.Apply([Volume(20, 24, 28, 3)], random: false);
        Assert.Equal(6 * 24 * 28 + 8 * 28 + 10, centre[0, 0, 0, 0, 0].item<float>());
        // Smaller than the crop: padded with zeros around the volume, which stays whole.
        var padded = new VolumeCrops([8, 8, 8], 1, CropAugment.None).Apply([Volume(4, 8, 8, 0)], random: true);
        Assert.Equal([1L, 1, 8, 8, 8], padded.shape);
        Assert.Equal(Enumerable.Range(0, 256).Sum(i => (double)i), padded.sum().item<float>(), 1);
        Assert.Equal(0f, padded[0, 0, 0].abs().sum().item<float>());
    }

    [Fact]
    public void Flips_and_rotations_only_move_voxels()
    {
        var crops = new VolumeCrops([8, 8, 8], 5, new CropAugment(FlipProbability: 1, RotateProbability: 1, IntensityProbability: 0));
        var plain = new VolumeCrops([8, 8, 8], 5, CropAugment.None);
        var v = Volume(8, 8, 8, 0);
        var moved = crops.Apply([v], true).flatten().sort().Values;
        var kept = plain.Apply([v], true).flatten().sort().Values;
        Assert.True(Same(moved, kept));
        Assert.False(Same(crops.Apply([v], true), plain.Apply([v], true)));
    }

    [Fact]
    public void A_flip_limited_to_x_mirrors_left_and_right_only()
    {
        var v = Volume(8, 8, 8, 0);
        var mirrored = new VolumeCrops([8, 8, 8], 5, new CropAugment(1, 0, 0, 0, ["x"])).Apply([v], true);
        var plain = new VolumeCrops([8, 8, 8], 5, CropAugment.None).Apply([v], true);
        Assert.True(Same(mirrored, plain.flip(-1)), "every flip draw succeeds at probability 1, and only x may flip");
        Assert.Throws<ArgumentException>(() => CropAugment.ParseAxes(["x", "w"]));
    }

    [Fact]
    public async Task Tokens_detokenize_to_the_crop_and_the_grid_follows_a_non_cubic_crop()
    {
        var recipe = new Mae3dRecipe("volume/mae3d", "", Mae3dOptions.Cpu(), Mae3dRecipe.CpuTraining);
        var options = Tiny with { Crop = [16, 24, 8] };
        var samples = await Anatomical(recipe, options);
        manual_seed(1);
        var parts = recipe.Build(options, new BuildContext(CPU, new DataSpec("nifti", "")));
        var tokenizer = (VolumeTokenizer)parts.Tokenizer;
        tokenizer.AugmentWhile = () => false;
        var tokens = tokenizer.Tokenize(samples, CPU);
        Assert.Equal(new GridLayout([2, 3, 1]) { Axes = "z,y,x" }, tokens.Layout);
        Assert.Equal([1L, 6, 512], tokens.Tokens.shape);
        var back = tokenizer.Detokenize(tokens.Tokens, tokens);
        var crop = tokenizer.Crops.Apply(samples, random: false);
        Assert.True(back.allclose(crop, rtol: 0, atol: 1e-5));
    }

    [Fact]
    public async Task Resume_from_a_checkpoint_retraces_an_uninterrupted_run()
    {
        var recipe = new Mae3dRecipe("volume/mae3d", "", Mae3dOptions.Cpu(), Mae3dRecipe.CpuTraining);
        var data = new SampleSet(await Anatomical(recipe, Tiny));
        var train = recipe.Training with { Steps = 12, Batch = 4, WarmupSteps = 2, CheckpointEvery = 100 };
        Trainer Make()
        {
            manual_seed(7);
            var parts = recipe.Build(Tiny, new BuildContext(CPU, new DataSpec("nifti", "")));
            return new Trainer(new TrainerSetup("volume/mae3d", parts, train, 7, CPU, ScalarType.Float32), data);
        }
        var losses = new List<double>();
        using var straight = Make();
        straight.Run(12, CancellationToken.None, r => losses.Add(r.Loss));

        string path = Path.Combine(root, "half.ckpt");
        using (var first = Make())
        {
            first.Run(6, CancellationToken.None);
            first.Save(path, 0);
        }
        var resumed = new List<double>();
        using var second = Make();
        second.Load(path);
        Assert.Equal(6, second.Step);
        second.Run(12, CancellationToken.None, r => resumed.Add(r.Loss));
        Assert.Equal(losses[6..], resumed);
        Assert.True(straight.Optimizer.Parameters.allclose(second.Optimizer.Parameters, rtol: 0, atol: 0));
    }

    [Fact]
    public async Task A_dataset_ingested_from_nifti_trains_from_parquet()
    {
        var recipe = new Mae3dRecipe("volume/mae3d", "", Mae3dOptions.Cpu(), Mae3dRecipe.CpuTraining);
        var samples = await Anatomical(recipe, Tiny);
        string folder = Path.Combine(root, "ds");
        await using (var writer = new DatasetWriter(folder))
        {
            foreach (var s in samples) await writer.AddAsync(s, CancellationToken.None);
            await writer.CompleteAsync("nifti", "anatomical.nii", recipe.DataOptions(Tiny), [], CancellationToken.None);
        }
        var issues = new DataIssueLog();
        var source = ParquetSource.Open(folder, null, ParquetSourceOptions.From(new Dictionary<string, string>()), issues);
        var back = source.Read([0], 0)[0];
        Assert.Equal(samples[0].Shape, back.Shape);
        Assert.Equal(samples[0].Values, back.Values); // float32 kept exactly

        var train = recipe.Training with { Steps = 30, Batch = 4, WarmupSteps = 3, Lr = 3e-3 };
        manual_seed(2);
        var parts = recipe.Build(Tiny, new BuildContext(CPU, new DataSpec("parquet", folder)));
        using var trainer = new Trainer(new TrainerSetup("volume/mae3d", parts, train, 2, CPU, ScalarType.Float32), source);
        var losses = new List<double>();
        trainer.Run(30, CancellationToken.None, r => losses.Add(r.Loss));
        Assert.Equal(0, issues.Count);
        Assert.True(losses.Skip(25).Average() < losses.Take(5).Average(), $"loss should fall: {losses.Take(5).Average():F3} → {losses.Skip(25).Average():F3}");
    }

    [Fact]
    public async Task The_tri_planar_sheet_shows_three_planes_per_crop_with_the_window()
    {
        var recipe = new Mae3dRecipe("volume/mae3d", "", Mae3dOptions.Cpu(), Mae3dRecipe.CpuTraining);
        var samples = await Anatomical(recipe, Tiny);
        manual_seed(4);
        var parts = recipe.Build(Tiny, new BuildContext(CPU, new DataSpec("nifti", "")));
        ((VolumeTokenizer)parts.Tokenizer).AugmentWhile = () => false;
        var tokens = parts.Tokenizer.Tokenize([samples[0], samples[0]], CPU);
        var plan = parts.Masker.Plan(tokens, new MaskContext(0, new Generator(1)) { Seed = 1 });
        var (h, w, rgb) = parts.Renderer!.Render(tokens, plan, tokens.Tokens.clone(), parts.Tokenizer);
        Assert.Equal(h * w * 3, rgb.Length);
        Assert.True(h > 6 * 16 * 4 && w > 3 * 16 * 4, $"{w}x{h}: two crops × three planes of 16² voxels at scale 4");
        // Sagittal: a [Z, Y, X] crop's slice at x = X/2, superior row first.
        var zyx = arange(2 * 3 * 4, dtype: ScalarType.Float32).reshape(2, 3, 4);
        Assert.Equal(new float[] { 14, 18, 22, 2, 6, 10 }, VolumeRenderer.Slice(zyx, 2).flatten().data<float>().ToArray());
        Assert.Equal(new float[] { 20, 21, 22, 23, 16, 17, 18, 19, 12, 13, 14, 15 }, VolumeRenderer.Slice(zyx, 0).flatten().data<float>().ToArray());
    }

    [Fact]
    public void Bad_recipe_options_are_refused_with_a_reason()
    {
        var recipe = new Mae3dRecipe("volume/mae3d", "", Mae3dOptions.Cpu(), Mae3dRecipe.CpuTraining);
        var ctx = new BuildContext(CPU, new DataSpec("nifti", ""));
        Assert.Contains("multiple of model.patch", Assert.Throws<ArgumentException>(() => recipe.Build(Tiny with { Crop = [16, 20, 16] }, ctx)).Message);
        Assert.Contains("time axis", Assert.Throws<ArgumentException>(() => recipe.Build(Tiny with { Masker = "tube" }, ctx)).Message);
        Assert.Contains("preset", Assert.Throws<ArgumentException>(() => recipe.Build(Tiny with { Window = "nope" }, ctx)).Message);
        // 3-D block masks (NeRF-MAE cubes of 2×2×2 tokens) build and hide the ratio.
        manual_seed(0);
        var parts = recipe.Build(Tiny with { Crop = [32, 32, 32], Masker = "block", BlockTokens = 2 }, ctx);
        var tokens = parts.Tokenizer.Tokenize([Volume(32, 32, 32, 0)], CPU);
        var plan = parts.Masker.Plan(tokens, new MaskContext(0, new Generator(1)) { Seed = 1 });
        Assert.Equal(48, plan.Masked.shape[1]); // 0.75 of 64
    }
}
