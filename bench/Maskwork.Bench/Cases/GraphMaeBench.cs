using System.Diagnostics;
using System.Globalization;
using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Training;
using Maskwork.Plugins.Graph.Readers;
using Maskwork.Plugins.Graph.Recipes;
using static TorchSharp.torch;

namespace Maskwork.Bench.Cases;

/// <summary>
/// GraphMAE on a Planetoid graph (Cora, CiteSeer), as the paper evaluates it: for each seed, pretrain the
/// recipe's published configuration full-batch, then the node-classification linear probe on the frozen
/// encoder (train nodes → select on val → test accuracy); the same probe on the identically initialised,
/// untrained encoder gives the random-init baseline. Prints one JSON line.
/// <c>graphmae --data planetoid:&lt;dir&gt; --seeds N [--first-seed K] [--recipe graph/graphmae] [--steps S] [--threads T] [--probe-every E] [--json]</c>
/// (<c>--probe-every</c> also probes during pretraining and logs it to stderr; it does not change the training.)
/// </summary>
public sealed class GraphMaeBench : IBenchCase
{
    public string Name => "graphmae";
    public string Summary => "GraphMAE on Planetoid (Cora/CiteSeer): node-classification probe over seeds vs random init";

    public async Task<int> RunAsync(BenchArgs args)
    {
        var spec = DataSpec.Parse(args.String("data", "planetoid:cora"));
        int seeds = args.Int("seeds", 5), firstSeed = args.Int("first-seed", 0), probeEvery = args.Int("probe-every", 0);
        string recipeName = args.String("recipe", spec.Path.Contains("citeseer", StringComparison.OrdinalIgnoreCase) ? "graph/graphmae-citeseer" : "graph/graphmae");
        var recipe = new[] { GraphMaeRecipe.Cora(), GraphMaeRecipe.CiteSeer() }.FirstOrDefault(r => r.Name == recipeName);
        if (recipe is null) { Console.Error.WriteLine($"graphmae: unknown recipe {recipeName}"); return 2; }
        if (args.Int("threads", 0) is > 0 and var threads) set_num_threads(threads);
        var options = (GraphMaeOptions)recipe.DefaultOptions;
        var training = recipe.Training with { CheckpointEvery = 0 };
        if (args.Value("steps") is not null) training = training with { Steps = args.Int("steps", training.Steps) };
        var probeOptions = NodeProbeOptions.From(OptionsJson.ToJson(options));

        var clock = Stopwatch.StartNew();
        var reader = GraphData.Readers.FirstOrDefault(r => r.Name == spec.Reader);
        if (reader is null) { Console.Error.WriteLine($"graphmae: --data needs a graph reader ({string.Join(", ", GraphData.Readers.Select(r => r.Name))})"); return 2; }
        var issues = new DataIssueLog();
        var samples = new List<Sample>();
        await foreach (var s in reader.ReadAsync(spec, issues, CancellationToken.None)) samples.Add(s);
        if (samples.Count == 0)
        {
            Console.Error.WriteLine($"graphmae: {spec} gave no graph: {string.Join("; ", issues.Items.Select(i => $"{i.File}: {i.Reason}"))}");
            return 1;
        }

        var device = CPU;
        var pretrained = new List<double>();
        var random = new List<double>();
        var pretrainSeconds = new List<double>();
        foreach (int seed in Enumerable.Range(firstSeed, seeds))
        {
            ModelParts Build()
            {
                manual_seed(seed);
                return recipe.Build(options, new BuildContext(device, spec));
            }

            var initial = Build();
            using (var features = NodeProbe.Features(initial, samples, device, ScalarType.Float32))
                random.Add(NodeProbe.Linear(features, seed, probeOptions).TestAccuracy);

            var parts = Build();
            var watch = Stopwatch.StartNew();
            double lastLoss = double.NaN;
            using (var trainer = new Trainer(new TrainerSetup(recipe.Name, parts, training, seed, device, ScalarType.Float32), new SampleSet(samples)))
            {
                int every = probeEvery > 0 ? probeEvery : training.Steps;
                for (int until = Math.Min(every, training.Steps); trainer.Step < training.Steps; until = Math.Min(until + every, training.Steps))
                {
                    trainer.Run(until, CancellationToken.None, r =>
                    {
                        lastLoss = r.Loss;
                        if (r.Step % 100 == 0) Console.Error.WriteLine($"  seed {seed} epoch {r.Step}/{training.Steps} loss {r.Loss:F4} ({watch.Elapsed.TotalSeconds:F0}s)");
                    });
                    if (probeEvery > 0 && trainer.Step < training.Steps)
                    {
                        using var interim = NodeProbe.Features(parts, samples, device, ScalarType.Float32);
                        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"  seed {seed} epoch {trainer.Step}: probe test {NodeProbe.Linear(interim, seed, probeOptions).TestAccuracy:F4} ({watch.Elapsed.TotalSeconds:F0}s)"));
                    }
                }
            }
            pretrainSeconds.Add(watch.Elapsed.TotalSeconds);
            using (var features = NodeProbe.Features(parts, samples, device, ScalarType.Float32))
            {
                var result = NodeProbe.Linear(features, seed, probeOptions);
                pretrained.Add(result.TestAccuracy);
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"seed {seed}: test {result.TestAccuracy:F4} (val {result.ValAccuracy:F4} at probe epoch {result.BestEpoch}), random init {random[^1]:F4}, final loss {lastLoss:F4}, pretrain {pretrainSeconds[^1]:F0}s"));
            }
        }

        static (double Mean, double Std) Stats(List<double> v)
        {
            double mean = v.Average();
            return (mean, Math.Sqrt(v.Average(x => (x - mean) * (x - mean)))); // population std, as GraphMAE reports (np.std)
        }
        var (mean, std) = Stats(pretrained);
        var (randomMean, randomStd) = Stats(random);
        BenchArgs.Emit(new
        {
            Case = Name, Dataset = Path.GetFileName(Path.TrimEndingDirectorySeparator(spec.Path)), Recipe = recipe.Name, Seeds = seeds,
            Steps = training.Steps, MeanAccuracy = Math.Round(mean, 4), StdAccuracy = Math.Round(std, 4),
            RandomInitMeanAccuracy = Math.Round(randomMean, 4), RandomInitStdAccuracy = Math.Round(randomStd, 4),
            Accuracies = pretrained.Select(a => Math.Round(a, 4)).ToArray(),
            PretrainSPerSeed = Math.Round(pretrainSeconds.Average(), 1), WallS = Math.Round(clock.Elapsed.TotalSeconds, 1),
            Threads = get_num_threads(),
        });
        return 0;
    }
}
