using System.Diagnostics;
using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Training;
using Maskwork.Plugins.PointCloud.Readers;
using Maskwork.Plugins.PointCloud.Recipes;
using static TorchSharp.torch;

namespace Maskwork.Bench.Cases;

/// <summary>
/// <c>point-shapes</c>: <c>points/point-mae</c> on the KiCad component shapes (../shared/datasets/shapes), 1,024
/// area-weighted surface points per mesh (x, y, z only: no colour), up axis z (KiCad's frame); pretrained on the train
/// split; a linear probe on frozen encoder features pooled as mean and max (<c>--pool mean+max</c>, the point-cloud MAEs'
/// protocol; the mean alone is reported too) against the same probe on the randomly initialised encoder. The point-cloud plugin's first result on real labelled 3-D data. Mean ± sd over the seeds.
/// </summary>
public sealed class PointShapesCase : IBenchCase
{
    public string Name => "point-shapes";
    public string Summary => "points/point-mae on KiCad shapes (1,024 surface points): linear probe vs random init; 3 seeds";

    public async Task<int> RunAsync(BenchArgs args)
    {
        string shapes = ShapesData.Locate(args);
        if (!Directory.Exists(shapes)) { Console.Error.WriteLine($"{shapes} is missing: pass --shapes <folder of the KiCad shapes set>"); return 1; }
        var seeds = ShapesData.Seeds(args);
        // Point-cloud MAEs probe the mean and the max of the tokens (Point-M2AE's and ReCon's linear SVM); the mean alone is reported beside it.
        var pooling = args.String("pool", "mean+max") switch
        {
            "mean+max" => FeaturePooling.MeanMax,
            "mean" => FeaturePooling.Mean,
            var other => throw new ArgumentException($"--pool {other}: mean+max or mean"),
        };
        var recipe = new PointMaeRecipe();
        var options = (PointMaeOptions)recipe.DefaultOptions with
        {
            UpAxis = 2, EncoderDim = args.Int("dim", 192), EncoderDepth = args.Int("depth", 4), Groups = args.Int("groups", 64),
            RotateDegrees = args.Double("rotate", 180),
        };
        var train = ShapesData.Training(args, recipe, batch: 32, blr: recipe.Training.BaseLr);
        int steps = train.Steps, batch = train.Batch;
        var clock = Stopwatch.StartNew();
        var (trainSet, testSet) = await ShapesData.ReadAsync(new PointCloudReader(PointFormat.Off), shapes, recipe.DataOptions(options));
        Console.Error.WriteLine($"point-shapes: {trainSet.Count} train / {testSet.Count} test shapes sampled to {options.Points} points ({clock.Elapsed.TotalSeconds:F0}s)");
        long[] trainY = trainSet.Select(s => (long)s.Label!.Value).ToArray(), testY = testSet.Select(s => (long)s.Label!.Value).ToArray();

        var results = new List<Dictionary<string, double>>();
        foreach (int seed in seeds)
        {
            var seedClock = Stopwatch.StartNew();
            var (parts, random, firstLoss, lastLoss) = ShapesData.Pretrain(recipe, options, new DataSpec("off", shapes), train, steps, seed, trainSet, seedClock);
            double trainSeconds = seedClock.Elapsed.TotalSeconds;
            double accuracy = ShapesData.ProbeAccuracy(parts, trainSet, trainY, testSet, testY, seed, pooling);
            double randomAccuracy = ShapesData.ProbeAccuracy(random, trainSet, trainY, testSet, testY, seed, pooling);
            double meanAccuracy = ShapesData.ProbeAccuracy(parts, trainSet, trainY, testSet, testY, seed);
            double meanRandomAccuracy = ShapesData.ProbeAccuracy(random, trainSet, trainY, testSet, testY, seed);
            Console.Error.WriteLine($"  seed {seed}: probe {accuracy:F4} random init {randomAccuracy:F4}; loss {firstLoss:F4} → {lastLoss:F4}; {seedClock.Elapsed.TotalSeconds:F0}s");
            results.Add(new()
            {
                ["seed"] = seed, ["accuracy"] = accuracy, ["random_init_accuracy"] = randomAccuracy, ["mean_pool_accuracy"] = meanAccuracy, ["mean_pool_random_init_accuracy"] = meanRandomAccuracy, ["first_loss"] = firstLoss, ["final_loss"] = lastLoss,
                ["train_seconds"] = trainSeconds, ["seconds"] = seedClock.Elapsed.TotalSeconds,
            });
        }
        BenchArgs.Emit(new
        {
            @case = Name, steps, batch, pool = pooling == FeaturePooling.MeanMax ? "mean+max" : "mean", points = options.Points, groups = options.Groups, encoder = $"{options.EncoderDim}x{options.EncoderDepth}", mask_ratio = options.MaskRatio,
            seeds, train_shapes = trainSet.Count, test_shapes = testSet.Count,
            accuracy = ShapesData.Mean(results, "accuracy"), accuracy_sd = ShapesData.Sd(results, "accuracy"),
            random_init_accuracy = ShapesData.Mean(results, "random_init_accuracy"), random_init_accuracy_sd = ShapesData.Sd(results, "random_init_accuracy"),
            mean_pool_accuracy = ShapesData.Mean(results, "mean_pool_accuracy"), mean_pool_random_init_accuracy = ShapesData.Mean(results, "mean_pool_random_init_accuracy"),
            train_seconds = ShapesData.Mean(results, "train_seconds"), per_seed = results, seconds = clock.Elapsed.TotalSeconds,
        });
        return 0;
    }
}
