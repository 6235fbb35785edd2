using System.Diagnostics;
using Maskwork.Abstractions;
using Maskwork.Backend.Nn;
using Maskwork.Backend.Visuals;
using Maskwork.Plugins.Voxel.Readers;
using Maskwork.Plugins.Voxel.Recipes;
using static TorchSharp.torch;

namespace Maskwork.Bench.Cases;

/// <summary>
/// <c>nerf-shapes</c>: <c>voxel/nerf-mae</c> on RGB-α grids voxelised from the KiCad shapes' coloured meshes (32³,
/// α = occupancy, RGB = the area-weighted face colour), pretrained on the train split. On the test split, with the
/// recipe's own masks (2³-token cubes at 0.75, seeded): masked α IoU (model α &gt; 0.5 against the true α &gt; 0.5) against
/// the per-position occupancy prior of the train split (as in <c>voxel-shapes</c>), and RGB PSNR on the masked voxels
/// that are occupied, against the mean-colour baseline (every occupied voxel painted the train split's mean occupied
/// colour). Mean ± sd over the seeds.
/// </summary>
public sealed class NerfShapesCase : IBenchCase
{
    public string Name => "nerf-shapes";
    public string Summary => "voxel/nerf-mae on KiCad shapes as RGB-α 32³: masked α IoU vs occupancy prior, RGB PSNR on occupied voxels vs mean colour; 3 seeds";

    public async Task<int> RunAsync(BenchArgs args)
    {
        string shapes = ShapesData.Locate(args);
        if (!Directory.Exists(shapes)) { Console.Error.WriteLine($"{shapes} is missing: pass --shapes <folder of the KiCad shapes set>"); return 1; }
        var seeds = ShapesData.Seeds(args);
        var recipe = VoxelMaeRecipe.NerfMae();
        var options = ShapesData.VoxelModel(args, VoxelMaeOptions.NerfMae());
        var train = ShapesData.Training(args, recipe);
        int steps = train.Steps, batch = train.Batch, grid = options.Grid;
        var clock = Stopwatch.StartNew();
        var (trainSet, testSet) = await ShapesData.ReadAsync(new VoxelReader(VoxelInput.MeshVoxels), shapes, recipe.DataOptions(options));
        Console.Error.WriteLine($"nerf-shapes: {trainSet.Count} train / {testSet.Count} test shapes voxelised to RGB-α {grid}³ ({clock.Elapsed.TotalSeconds:F0}s)");
        var (frequency, threshold, meanColour) = Baselines(trainSet);

        var results = new List<Dictionary<string, double>>();
        foreach (int seed in seeds)
        {
            var seedClock = Stopwatch.StartNew();
            var (parts, _, firstLoss, lastLoss) = ShapesData.Pretrain(recipe, options, new DataSpec("mesh-voxels", shapes), train, steps, seed, trainSet, seedClock);
            double trainSeconds = seedClock.Elapsed.TotalSeconds;
            var m = Score(parts, testSet, frequency, threshold, meanColour, seed);
            if (seed == seeds[0] && args.Value("pictures") is { } pictures) Picture(parts, testSet, seed, pictures);
            Console.Error.WriteLine($"  seed {seed}: α IoU {m.AlphaIou:F4} prior {m.PriorIou:F4}; RGB PSNR {m.Psnr:F2} dB mean colour {m.BaselinePsnr:F2} dB; loss {firstLoss:F4} → {lastLoss:F4}; {seedClock.Elapsed.TotalSeconds:F0}s");
            results.Add(new()
            {
                ["seed"] = seed, ["alpha_iou"] = m.AlphaIou, ["prior_alpha_iou"] = m.PriorIou, ["psnr"] = m.Psnr, ["baseline_psnr"] = m.BaselinePsnr,
                ["first_loss"] = firstLoss, ["final_loss"] = lastLoss, ["train_seconds"] = trainSeconds, ["seconds"] = seedClock.Elapsed.TotalSeconds,
            });
        }
        BenchArgs.Emit(new
        {
            @case = Name, steps, batch, grid, patch = options.Patch, encoder = $"{options.EncoderDim}x{options.EncoderDepth}", mask_ratio = options.MaskRatio, positive_weight = options.PositiveWeight,
            seeds, train_shapes = trainSet.Count, test_shapes = testSet.Count,
            alpha_iou = ShapesData.Mean(results, "alpha_iou"), alpha_iou_sd = ShapesData.Sd(results, "alpha_iou"),
            prior_alpha_iou = ShapesData.Mean(results, "prior_alpha_iou"), prior_alpha_iou_sd = ShapesData.Sd(results, "prior_alpha_iou"),
            psnr = ShapesData.Mean(results, "psnr"), psnr_sd = ShapesData.Sd(results, "psnr"),
            baseline_psnr = ShapesData.Mean(results, "baseline_psnr"), baseline_psnr_sd = ShapesData.Sd(results, "baseline_psnr"),
            train_seconds = ShapesData.Mean(results, "train_seconds"), per_seed = results, seconds = clock.Elapsed.TotalSeconds,
        });
        return 0;
    }

    /// <summary>The train split's per-cell occupancy frequency with its IoU-best threshold, and its mean occupied colour.</summary>
    static (float[] Frequency, double Threshold, float[] MeanColour) Baselines(List<Sample> train)
    {
        using var scope = NewDisposeScope();
        var x = stack(train.Select(s => tensor(s.Values, s.Shape.Select(d => (long)d).ToArray())).ToList()).to_type(ScalarType.Float32);   // [N, 4, S, S, S]
        var alpha = x.select(1, 3).gt(0.5);
        var frequency = alpha.to_type(ScalarType.Float32).mean([0L]);
        double best = -1, threshold = 0.5;
        foreach (double t in Enumerable.Range(1, 19).Select(i => i / 20.0))
        {
            var guess = frequency.gt(t).unsqueeze(0).expand_as(alpha);
            double iou = guess.logical_and(alpha).sum().item<long>() / (double)Math.Max(1, guess.logical_or(alpha).sum().item<long>());
            if (iou > best) (best, threshold) = (iou, t);
        }
        var w = alpha.to_type(ScalarType.Float32).unsqueeze(1);
        var mean = (x.narrow(1, 0, 3) * w).sum([0L, 2L, 3L, 4L]) / w.sum().clamp_min(1);
        return (frequency.contiguous().data<float>().ToArray(), threshold, mean.data<float>().ToArray());
    }

    sealed record Scores(double AlphaIou, double PriorIou, double Psnr, double BaselinePsnr);

    /// <summary>Masked α IoU and RGB PSNR on occupied masked voxels, of the model and of the baselines, under the same masks.</summary>
    static Scores Score(ModelParts parts, IReadOnlyList<Sample> test, float[] frequency, double threshold, float[] meanColour, int seed)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var samples = test.Select((s, i) => s with { Index = i }).ToList();
        var tokens = parts.Tokenizer.Tokenize(samples, CPU) with { SampleKeys = arange((long)samples.Count) };
        var plan = parts.Masker.Plan(tokens, new MaskContext(0, new Generator((ulong)(1000 + seed))) { Seed = 1000 + seed });
        var recon = parts.Objective.Compute(tokens, plan, parts.Encoder.Encode(tokens, plan)).Reconstruction!;   // RGB-α in [0, 1]
        var truth = TokenOps.Gather(tokens.Tokens, plan.Masked).view(samples.Count, -1, 4);
        var model = TokenOps.Gather(recon, plan.Masked).view(samples.Count, -1, 4);
        // The prior as an α-only grid, tokenized like the samples so it lines up with the masked voxels.
        var shape = test[0].Shape;
        long cells = frequency.Length;
        var priorGrid = new float[4 * cells];
        Array.Copy(frequency, 0, priorGrid, 3 * cells, cells);
        var priorTokens = parts.Tokenizer.Tokenize(samples.Select(s => new Sample(priorGrid, shape, null, "prior")).ToList(), CPU).Tokens;
        var prior = TokenOps.Gather(priorTokens, plan.Masked).view(samples.Count, -1, 4).select(-1, 3);

        var occupied = truth.select(-1, 3).gt(0.5);
        double Iou(Tensor guess) => guess.logical_and(occupied).sum().item<long>() / (double)Math.Max(1, guess.logical_or(occupied).sum().item<long>());
        var rgbTruth = truth.narrow(-1, 0, 3)[occupied];
        double Psnr(Tensor rgb) => 10 * Math.Log10(1 / Math.Max(1e-10, (rgb - rgbTruth).Squared().mean().item<float>()));
        var mean = tensor(meanColour).unsqueeze(0).expand_as(rgbTruth);
        return new Scores(Iou(model.select(-1, 3).gt(0.5)), Iou(prior.gt(threshold)), Psnr(model.narrow(-1, 0, 3)[occupied]), Psnr(mean));
    }

    static void Picture(ModelParts parts, IReadOnlyList<Sample> test, int seed, string folder)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var picks = test.Select((s, i) => (s, i)).GroupBy(p => p.s.Label).Select(g => g.First()).Take(6).ToList();
        var samples = picks.Select(p => p.s with { Index = p.i }).ToList();
        var tokens = parts.Tokenizer.Tokenize(samples, CPU) with { SampleKeys = tensor(picks.Select(p => (long)p.i).ToArray()) };
        var plan = parts.Masker.Plan(tokens, new MaskContext(0, new Generator((ulong)(1000 + seed))) { Seed = 1000 + seed });
        var recon = parts.Objective.Compute(tokens, plan, parts.Encoder.Encode(tokens, plan)).Reconstruction!;
        var (h, w, rgb) = parts.Renderer!.Render(tokens, plan, recon, parts.Tokenizer);
        Directory.CreateDirectory(folder);
        new RgbImage(w, h, rgb).SavePng(Path.Combine(folder, "nerf-shapes.png"));
    }
}
