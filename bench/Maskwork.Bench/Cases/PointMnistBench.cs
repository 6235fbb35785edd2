using System.Diagnostics;
using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Training;
using Maskwork.Plugins.PointCloud.Readers;
using Maskwork.Plugins.PointCloud.Recipes;
using static TorchSharp.torch;

namespace Maskwork.Bench.Cases;

/// <summary>
/// Point-MAE on Fashion-MNIST point clouds (pixels above a threshold → (x, y, intensity) points):
/// pretrain, then a linear probe on frozen features of the pretrained encoder against the same probe
/// on the identically initialised, untrained encoder. Defaults: continuous clouds (points drawn in pixels
/// ∝ intensity, seeded), 256 points, 32 groups × 16, encoder 128 × 4, mask ratio 0.75, batch 64, 2,000
/// steps at peak lr 2e-3 (measured: 0.7075 vs 0.600 random init, +10.75 points, 217 s on an idle
/// 2-core machine; 300 steps gave only +3.6, 600 steps +2.5), and
/// Point-MAE's classification pooling (max ‖ mean of the encoder tokens) for the probe.
/// </summary>
public sealed class PointMnistBench : IBenchCase
{
    public string Name => "point-mnist";
    public string Summary => "Point-MAE on Fashion-MNIST point clouds: linear probe, pretrained vs random init";

    public async Task<int> RunAsync(BenchArgs args)
    {
        int steps = args.Int("steps", 2000), batch = args.Int("batch", 64), seed = args.Int("seed", 0);
        int pretrainCount = args.Int("pretrain-samples", 20000), probeTrain = args.Int("probe-train", 5000), probeTest = args.Int("probe-test", 2000);
        var options = new PointMaeOptions
        {
            Points = args.Int("points", 256), Groups = args.Int("groups", 32), GroupSize = args.Int("group-size", 16),
            EncoderDim = args.Int("dim", 128), EncoderDepth = args.Int("depth", 4), EncoderHeads = 4,
            DecoderDim = args.Int("decoder-dim", 128), DecoderDepth = args.Int("decoder-depth", 2), DecoderHeads = 4,
            MaskRatio = args.Double("mask-ratio", 0.75), RotateDegrees = args.Double("rotate", 15),
        };
        if (args.Value("threads") is not null) set_num_threads(args.Int("threads", 1));
        var clock = Stopwatch.StartNew();
        var reader = new ImagePointsReader("fashion-mnist-points", "fashion-mnist");
        string sampling = args.String("sampling", "intensity"), pool = args.String("pool", "max+mean");
        if (pool is not ("mean" or "max" or "max+mean")) throw new ArgumentException($"--pool must be mean, max or max+mean, not '{pool}'");
        var dataOptions = new Dictionary<string, string> { ["sampling"] = sampling, ["points"] = options.Points.ToString(System.Globalization.CultureInfo.InvariantCulture), ["seed"] = seed.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        var issues = new DataIssueLog();
        async Task<List<Sample>> Load(string split, int limit)
        {
            var list = new List<Sample>();
            await foreach (var s in reader.ReadAsync(new DataSpec(reader.Name, "") { Split = split, Options = dataOptions }, issues, CancellationToken.None))
            {
                list.Add(s);
                if (list.Count == limit) break;
            }
            return list;
        }
        var train = await Load("train", Math.Max(pretrainCount, probeTrain));
        var test = await Load("test", probeTest);
        Console.Error.WriteLine($"point-mnist: {train.Count} train / {test.Count} test clouds, mean {train.Average(s => s.Shape[0]):F0} points ({clock.Elapsed.TotalSeconds:F1}s)");

        var recipe = new PointMaeRecipe();
        var device = CPU;
        ModelParts Build()
        {
            manual_seed(seed);
            return recipe.Build(options, new BuildContext(device, new DataSpec(reader.Name, "")));
        }
        var train0 = recipe.Training with { Steps = steps, Batch = batch, WarmupSteps = Math.Min(recipe.Training.WarmupSteps, steps / 5), CheckpointEvery = 0 };
        // --png FILE writes reconstruction pictures (input | visible groups | reconstruction) of test clouds.
        // Few steps on a CPU: a higher peak rate than the recipe's batch-scaled 2e-3·B/256 (--lr 0 keeps the recipe's).
        double? lr = args.Double("lr", 2e-3) is > 0 and var l ? l : null;
        if (lr is not null) train0 = train0 with { Lr = lr };

        var parts = Build();
        double firstLoss = double.NaN, lastLoss = double.NaN;
        var trainClock = Stopwatch.StartNew();
        using (var trainer = new Trainer(new TrainerSetup(recipe.Name, parts, train0, seed, device, ScalarType.Float32), new SampleSet(train.Take(pretrainCount).ToList())))
        {
            trainer.Run(steps, CancellationToken.None, r =>
            {
                if (double.IsNaN(firstLoss)) firstLoss = r.Loss;
                lastLoss = r.Loss;
                if (r.Step % 50 == 0 || r.Step == steps) Console.Error.WriteLine($"  step {r.Step}/{steps} loss {r.Loss:F4} lr {r.Lr:G3} ({trainClock.Elapsed.TotalSeconds:F0}s)");
            });
        }
        double trainSeconds = trainClock.Elapsed.TotalSeconds;
        if (args.Value("png") is { } png) SavePicture(parts, test.Take(6).ToList(), seed, device, png);

        // Encoder tokens [N,G,D] of every probe cloud (all groups visible, eval mode, no
        // augmentation), pooled three ways; the same linear probe (same seed) for both encoders.
        var probeSet = train.Take(probeTrain).ToList();
        long[] yTrain = probeSet.Select(s => (long)s.Label!.Value).ToArray(), yTest = test.Select(s => (long)s.Label!.Value).ToArray();
        Dictionary<string, double> ProbeAccuracies(ModelParts p)
        {
            using var scope = NewDisposeScope();
            var tTrain = TokenFeatures(p, probeSet, device);
            var tTest = TokenFeatures(p, test, device);
            var result = new Dictionary<string, double>();
            foreach (var name in new[] { "mean", "max", "max+mean" })
                result[name] = Probe.Linear(Pool(tTrain, name), yTrain, Pool(tTest, name), yTest, seed);
            return result;
        }
        var pretrained = ProbeAccuracies(parts);
        var random = ProbeAccuracies(Build());
        double accuracy = pretrained[pool], randomAccuracy = random[pool];
        BenchArgs.Emit(new
        {
            @case = Name, accuracy = Math.Round(accuracy, 4), random_init_accuracy = Math.Round(randomAccuracy, 4),
            gain_points = Math.Round((accuracy - randomAccuracy) * 100, 2), pool, sampling, steps, batch,
            by_pool = pretrained.ToDictionary(kv => kv.Key, kv => new[] { Math.Round(kv.Value, 4), Math.Round(random[kv.Key], 4) }),
            mask_ratio = options.MaskRatio, lr = train0.Lr ?? train0.BaseLr * batch / 256,
            first_loss = Math.Round(firstLoss, 5), final_loss = Math.Round(lastLoss, 5),
            points = options.Points, groups = options.Groups, group_size = options.GroupSize, encoder = $"{options.EncoderDim}x{options.EncoderDepth}",
            pretrain_samples = Math.Min(pretrainCount, train.Count), probe_train = probeTrain, probe_test = test.Count,
            train_s = Math.Round(trainSeconds, 1), wall_s = Math.Round(clock.Elapsed.TotalSeconds, 1),
        });
        return 0;
    }

    /// <summary>Encoder output tokens [N,G,D] of every sample: all groups visible, eval mode, no gradients.</summary>
    static Tensor TokenFeatures(ModelParts parts, IReadOnlyList<Sample> samples, Device device, int batch = 128)
    {
        var chunks = new List<Tensor>();
        using var _ = no_grad();
        (parts.Encoder as nn.Module)?.eval();
        for (int i = 0; i < samples.Count; i += batch)
        {
            using var scope = NewDisposeScope();
            var tokens = parts.Tokenizer.Tokenize(samples.Skip(i).Take(batch).ToList(), device);
            var encoded = parts.Encoder.Encode(tokens, MaskPlan.None(tokens.BatchSize, tokens.TokenCount, device));
            chunks.Add(encoded.Latent.to_type(ScalarType.Float32).cpu().MoveToOuterDisposeScope());
        }
        var all = cat(chunks, 0);
        foreach (var c in chunks) c.Dispose();
        return all;
    }

    /// <summary>Pools tokens [N,G,D] to features: mean [N,D], max [N,D], or both concatenated [N,2D] (Point-MAE's classification pooling).</summary>
    static Tensor Pool(Tensor tokens, string how) => how switch
    {
        "mean" => tokens.mean([1L]),
        "max" => tokens.amax([1L]),
        _ => cat([tokens.amax([1L]), tokens.mean([1L])], 1),
    };

    static void SavePicture(ModelParts parts, IReadOnlyList<Sample> samples, long seed, Device device, string path)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var model = new MaskedModel(parts);
        model.eval();
        using var generator = new Generator((ulong)seed);
        var tokens = parts.Tokenizer.Tokenize(samples, device);
        var plan = parts.Masker.Plan(tokens, new MaskContext(0, generator));
        var result = model.Forward(tokens, plan);
        var (h, w, rgb) = parts.Renderer!.Render(tokens, plan, result.Reconstruction!, parts.Tokenizer);
        new Maskwork.Backend.Visuals.RgbImage(w, h, rgb).SavePng(path);
        Console.Error.WriteLine($"  wrote {path}");
    }
}
