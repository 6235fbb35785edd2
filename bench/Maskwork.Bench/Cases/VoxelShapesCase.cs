using System.Diagnostics;
using System.Globalization;
using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Training;
using Maskwork.Backend.Visuals;
using Maskwork.Plugins.Voxel.Model;
using Maskwork.Plugins.Voxel.Readers;
using Maskwork.Plugins.Voxel.Recipes;
using Maskwork.Plugins.Voxel.Tokenization;
using static TorchSharp.torch;

namespace Maskwork.Bench.Cases;

/// <summary>
/// <c>voxel-shapes</c>: the KiCad component shapes (../shared/datasets/shapes: 268 train / 93 test meshes, 10 classes,
/// split by part family) voxelised to 32³ surface occupancy (geometry only, no colour). <c>voxel/mae3d</c> pretrains on
/// the train split; then, per seed, a linear probe on frozen mean-pooled encoder features (all tokens visible, no
/// rotation) trained on train and scored on test, against the same probe on the randomly initialised encoder (same
/// seed, same architecture) and logistic regression on the raw 32³ voxels; and masked-voxel IoU on the test split (the
/// recipe's own occupancy-aware masks, seeded) of the model (p &gt; 0.5) against a per-position occupancy prior (the
/// train split's occupancy frequency per cell, thresholded at the level that maximises the prior's IoU on train).
/// Every number is a mean ± sd over the seeds.
/// </summary>
public sealed class VoxelShapesCase : IBenchCase
{
    public string Name => "voxel-shapes";
    public string Summary => "voxel/mae3d on KiCad shapes (32³): linear probe vs random init / raw voxels, masked-voxel IoU vs occupancy prior; 3 seeds";

    public async Task<int> RunAsync(BenchArgs args)
    {
        string shapes = ShapesData.Locate(args);
        if (!Directory.Exists(shapes)) { Console.Error.WriteLine($"{shapes} is missing: pass --shapes <folder of the KiCad shapes set>"); return 1; }
        var seeds = ShapesData.Seeds(args);
        var recipe = VoxelMaeRecipe.Mae3d();
        // Occupied voxels weigh 8 in the BCE (the recipe's 4 left every masked voxel empty at 80 steps).
        var options = ShapesData.VoxelModel(args, VoxelMaeOptions.Mae3d() with { PositiveWeight = 8 });
        var train = ShapesData.Training(args, recipe);
        int steps = train.Steps, batch = train.Batch, grid = options.Grid;
        var clock = Stopwatch.StartNew();
        var (trainSet, testSet) = await ShapesData.ReadAsync(new VoxelReader(VoxelInput.MeshVoxels), shapes, recipe.DataOptions(options));
        Console.Error.WriteLine($"voxel-shapes: {trainSet.Count} train / {testSet.Count} test shapes voxelised to {grid}³ ({clock.Elapsed.TotalSeconds:F0}s)");
        long[] trainY = trainSet.Select(s => (long)s.Label!.Value).ToArray(), testY = testSet.Select(s => (long)s.Label!.Value).ToArray();
        var rawTrain = Raw(trainSet); var rawTest = Raw(testSet);
        var prior = Prior(rawTrain);

        var results = new List<Dictionary<string, double>>();
        foreach (int seed in seeds)
        {
            var seedClock = Stopwatch.StartNew();
            var (parts, random, firstLoss, lastLoss) = ShapesData.Pretrain(recipe, options, new DataSpec("mesh-voxels", shapes), train, steps, seed, trainSet, seedClock);
            double trainSeconds = seedClock.Elapsed.TotalSeconds;
            double accuracy = ShapesData.ProbeAccuracy(parts, trainSet, trainY, testSet, testY, seed);
            double randomAccuracy = ShapesData.ProbeAccuracy(random, trainSet, trainY, testSet, testY, seed);
            double rawAccuracy = Probe.Linear(rawTrain, trainY, rawTest, testY, seed, ShapesData.ProbeOptions);
            var (iou, priorIou) = MaskedIou(parts, testSet, prior, seed);
            if (seed == seeds[0] && args.Value("pictures") is { } pictures) Picture(parts, testSet, seed, pictures);
            Console.Error.WriteLine($"  seed {seed}: probe {accuracy:F4} random init {randomAccuracy:F4} raw {rawAccuracy:F4}; masked IoU {iou:F4} prior {priorIou:F4}; loss {firstLoss:F4} → {lastLoss:F4}; {seedClock.Elapsed.TotalSeconds:F0}s");
            results.Add(new()
            {
                ["seed"] = seed, ["accuracy"] = accuracy, ["random_init_accuracy"] = randomAccuracy, ["raw_accuracy"] = rawAccuracy,
                ["masked_iou"] = iou, ["prior_iou"] = priorIou, ["first_loss"] = firstLoss, ["final_loss"] = lastLoss,
                ["train_seconds"] = trainSeconds, ["seconds"] = seedClock.Elapsed.TotalSeconds,
            });
        }
        BenchArgs.Emit(new
        {
            @case = Name, steps, batch, grid, patch = options.Patch, encoder = $"{options.EncoderDim}x{options.EncoderDepth}", mask_ratio = options.MaskRatio,
            seeds, train_shapes = trainSet.Count, test_shapes = testSet.Count,
            accuracy = ShapesData.Mean(results, "accuracy"), accuracy_sd = ShapesData.Sd(results, "accuracy"),
            random_init_accuracy = ShapesData.Mean(results, "random_init_accuracy"), random_init_accuracy_sd = ShapesData.Sd(results, "random_init_accuracy"),
            raw_accuracy = ShapesData.Mean(results, "raw_accuracy"), raw_accuracy_sd = ShapesData.Sd(results, "raw_accuracy"),
            masked_iou = ShapesData.Mean(results, "masked_iou"), masked_iou_sd = ShapesData.Sd(results, "masked_iou"),
            prior_iou = ShapesData.Mean(results, "prior_iou"), prior_iou_sd = ShapesData.Sd(results, "prior_iou"),
            train_seconds = ShapesData.Mean(results, "train_seconds"), per_seed = results, seconds = clock.Elapsed.TotalSeconds,
        });
        return 0;
    }

    /// <summary>The grids as rows [N, S³] of 0/1.</summary>
    /// <remarks>The row tensors are held in a list: <c>stack</c> over a lazy Select let the GC free them mid-call (a segfault).</remarks>
    static Tensor Raw(IReadOnlyList<Sample> samples) => stack(samples.Select(s => tensor(s.Values)).ToList()).to_type(ScalarType.Float32);

    /// <summary>The prior: per-cell occupancy frequency on train and the threshold that maximises its IoU on train.</summary>
    static (Tensor Frequency, double Threshold) Prior(Tensor rawTrain)
    {
        var frequency = rawTrain.mean([0L]);
        var truth = rawTrain.gt(0.5);
        double best = -1, threshold = 0.5;
        foreach (double t in Enumerable.Range(1, 19).Select(i => i / 20.0))
        {
            var guess = frequency.gt(t).unsqueeze(0).expand_as(truth);
            double iou = guess.logical_and(truth).sum().item<long>() / (double)Math.Max(1, guess.logical_or(truth).sum().item<long>());
            if (iou > best) (best, threshold) = (iou, t);
        }
        return (frequency, threshold);
    }

    /// <summary>IoU over the masked patches' voxels of the test split: the model's p &gt; 0.5 and the prior's, with the same masks.</summary>
    static (double Model, double Prior) MaskedIou(ModelParts parts, IReadOnlyList<Sample> test, (Tensor Frequency, double Threshold) prior, int seed)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var samples = test.Select((s, i) => s with { Index = i }).ToList();
        var tokens = parts.Tokenizer.Tokenize(samples, CPU) with { SampleKeys = arange((long)samples.Count) };
        var plan = parts.Masker.Plan(tokens, new MaskContext(0, new Generator((ulong)(1000 + seed))) { Seed = 1000 + seed });
        var logitsP = ((VoxelMaeObjective)parts.Objective).Compute(tokens, plan, parts.Encoder.Encode(tokens, plan)).Reconstruction!;
        var truth = Gather(tokens.Tokens, plan.Masked).gt(0.5);
        var model = Gather(logitsP, plan.Masked).gt(0.5);
        var priorTokens = parts.Tokenizer.Tokenize(samples.Select(s => new Sample(prior.Frequency.data<float>().ToArray(), s.Shape, null, "prior")).ToList(), CPU).Tokens;
        var priorGuess = Gather(priorTokens, plan.Masked).gt(prior.Threshold);
        double Iou(Tensor guess) => guess.logical_and(truth).sum().item<long>() / (double)Math.Max(1, guess.logical_or(truth).sum().item<long>());
        return (Iou(model), Iou(priorGuess));
    }

    static Tensor Gather(Tensor x, Tensor index) => Maskwork.Backend.Nn.TokenOps.Gather(x, index);

    static void Picture(ModelParts parts, IReadOnlyList<Sample> test, int seed, string folder)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        // One shape per class (the first of each), six rows.
        var picks = test.Select((s, i) => (s, i)).GroupBy(p => p.s.Label).Select(g => g.First()).Take(6).ToList();
        var samples = picks.Select(p => p.s with { Index = p.i }).ToList();
        var tokens = parts.Tokenizer.Tokenize(samples, CPU) with { SampleKeys = tensor(picks.Select(p => (long)p.i).ToArray()) };
        var plan = parts.Masker.Plan(tokens, new MaskContext(0, new Generator((ulong)(1000 + seed))) { Seed = 1000 + seed });
        var recon = parts.Objective.Compute(tokens, plan, parts.Encoder.Encode(tokens, plan)).Reconstruction!;
        var (h, w, rgb) = parts.Renderer!.Render(tokens, plan, recon, parts.Tokenizer);
        Directory.CreateDirectory(folder);
        new RgbImage(w, h, rgb).SavePng(Path.Combine(folder, "voxel-shapes.png"));
    }
}

/// <summary>The KiCad shapes set for the 3-D bench cases: where it is, its splits read through a plugin reader, mean ± sd.</summary>
static class ShapesData
{
    /// <summary>The linear probe both shapes cases use (frozen features, test split).</summary>
    public static readonly LinearProbeOptions ProbeOptions = new(Epochs: 100, Batch: 64, Lr: 1e-2);

    /// <summary>
    /// Pretrains <paramref name="recipe"/> on <paramref name="trainSet"/> for one seed, beside an identically seeded
    /// untrained model (the random-init baseline); both come back in eval mode with the first and last loss.
    /// </summary>
    public static (ModelParts Parts, ModelParts Random, double FirstLoss, double LastLoss) Pretrain(
        IRecipe recipe, object options, DataSpec spec, TrainOptions train, int steps, int seed, List<Sample> trainSet, Stopwatch clock)
    {
        manual_seed(seed);
        var random = recipe.Build(options, new BuildContext(CPU, spec));
        manual_seed(seed);
        var parts = recipe.Build(options, new BuildContext(CPU, spec));
        using var trainer = new Trainer(new TrainerSetup(recipe.Name, parts, train, seed, CPU, ScalarType.Float32), new SampleSet(trainSet));
        double firstLoss = double.NaN, lastLoss = double.NaN;
        trainer.Run(steps, CancellationToken.None, r =>
        {
            if (r.Step == 1) firstLoss = r.Loss;
            lastLoss = r.Loss;
            if (r.Step % 25 == 0) Console.Error.WriteLine($"  seed {seed} step {r.Step} loss {r.Loss:F4} ({clock.Elapsed.TotalSeconds:F0}s)");
        });
        trainer.Model.eval();
        ((nn.Module)random.Encoder).eval();
        return (parts, random, firstLoss, lastLoss);
    }

    /// <summary>--seeds (default 0,1,2): every number is a mean ± sd over them.</summary>
    public static int[] Seeds(BenchArgs args)
    {
        if (args.Value("threads") is not null) set_num_threads(args.Int("threads", 2));
        return args.String("seeds", "0,1,2").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
    }

    /// <summary>
    /// The voxel cases' schedule: --steps (300) × --batch (16) at --blr (1.6e-2), warm-up a tenth of the steps (at most 20):
    /// measured on 2 idle cores to meet voxel-shapes' targets in about a minute a seed.
    /// </summary>
    public static TrainOptions Training(BenchArgs args, IRecipe recipe, int steps = 300, int batch = 16, double blr = 1.6e-2)
    {
        steps = args.Int("steps", steps);
        return recipe.Training with { Steps = steps, Batch = args.Int("batch", batch), WarmupSteps = Math.Max(1, Math.Min(20, steps / 10)), BaseLr = args.Double("blr", blr) };
    }

    /// <summary>
    /// The voxel cases' model: <paramref name="basis"/> (a recipe's options) at the measured CPU size — a 96-wide 2-block
    /// encoder, a 48-wide 1-block decoder — with every flag given: --grid --dim --depth --decoder-dim --decoder-depth
    /// --mask-ratio --rotate --occupied-weight --positive-weight.
    /// </summary>
    public static VoxelMaeOptions VoxelModel(BenchArgs args, VoxelMaeOptions basis) => basis with
    {
        Grid = args.Int("grid", 32), EncoderDim = args.Int("dim", 96), EncoderDepth = args.Int("depth", 2), DecoderDim = args.Int("decoder-dim", 48),
        DecoderDepth = args.Int("decoder-depth", 1), MaskRatio = args.Double("mask-ratio", basis.MaskRatio), RotateDegrees = args.Double("rotate", basis.RotateDegrees),
        OccupiedWeight = args.Double("occupied-weight", basis.OccupiedWeight), PositiveWeight = args.Double("positive-weight", basis.PositiveWeight),
    };

    /// <summary>Linear-probe test accuracy of <paramref name="parts"/>' frozen features.</summary>
    public static double ProbeAccuracy(ModelParts parts, List<Sample> train, long[] trainY, List<Sample> test, long[] testY, int seed, FeaturePooling pooling = FeaturePooling.Mean) =>
        Probe.Linear(Probe.Features(parts, train, CPU, ScalarType.Float32, pooling), trainY, Probe.Features(parts, test, CPU, ScalarType.Float32, pooling), testY, seed, ProbeOptions);

    public static string Locate(BenchArgs args) => args.Value("shapes") ?? new[] { "../shared/datasets/shapes", "../../shared/datasets/shapes", "/work/shared/datasets/shapes" }
        .Select(Path.GetFullPath).FirstOrDefault(Directory.Exists, Path.GetFullPath("../shared/datasets/shapes"));

    public static async Task<(List<Sample> Train, List<Sample> Test)> ReadAsync(IDatasetReader reader, string folder, IReadOnlyDictionary<string, string> options)
    {
        var issues = new DataIssueLog();
        var all = new List<Sample>();
        await foreach (var s in reader.ReadAsync(new DataSpec(reader.Name, folder) { Options = options }, issues, CancellationToken.None)) all.Add(s);
        foreach (var (file, reason) in issues.Items) Console.Error.WriteLine($"  skipped {file}: {reason}");
        return (all.Where(s => s.Split == "train").ToList(), all.Where(s => s.Split == "test").ToList());
    }

    public static double Mean(List<Dictionary<string, double>> rows, string key) => rows.Average(r => r[key]);

    public static double Sd(List<Dictionary<string, double>> rows, string key)
    {
        if (rows.Count < 2) return 0;
        double m = Mean(rows, key);
        return Math.Sqrt(rows.Sum(r => (r[key] - m) * (r[key] - m)) / (rows.Count - 1));
    }
}
