using System.Diagnostics;
using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Training;
using Maskwork.Plugins.Image;
using Maskwork.Plugins.Image.Recipes;
using static TorchSharp.torch;

namespace Maskwork.Bench.Cases;

/// <summary>
/// Masker comparison (issue 13): one image recipe pretrained on Fashion-MNIST at patch 4 (7×7 tokens) for a
/// fixed budget (steps × batch), then a linear probe on frozen features of a train/test subset, against the
/// same probe on the same encoder at random init. Same trainer, tokenizer and probe code as the host.
/// </summary>
public sealed class MaskerProbeCase : IBenchCase
{
    public string Name => "masker-probe";
    public string Summary => "pretrain an image recipe at patch 4, linear-probe it (--recipe image/mae --seed 0 --steps 1000 --batch 128 --probe-train 10000 --probe-test 5000)";

    sealed class Recipes : IComponentRegistry
    {
        public Dictionary<string, IRecipe> All { get; } = [];
        public void AddReader(IDatasetReader reader) { }
        public void AddRecipe(IRecipe recipe) => All[recipe.Name] = recipe;
    }

    public async Task<int> RunAsync(BenchArgs args)
    {
        MaeTiny.Threads(args);
        string name = args.String("recipe", "image/mae");
        long seed = args.Int("seed", 0);
        int steps = args.Int("steps", 1000), batch = args.Int("batch", 128);
        int probeTrain = args.Int("probe-train", 10000), probeTest = args.Int("probe-test", 5000);
        var registry = new Recipes();
        new ImagePlugin().Register(registry);
        var recipe = registry.All[name];
        var options = (ImageMaeOptions)recipe.DefaultOptions with { Patch = 4 };

        var reader = new Maskwork.Plugins.Image.Readers.IdxReader("fashion-mnist", "fashion-mnist");
        var spec = DataSpec.Parse("fashion-mnist") with { Options = recipe.DataOptions(options) };
        var all = new List<Sample>();
        await foreach (var s in reader.ReadAsync(spec, new DataIssueLog(failFast: true), CancellationToken.None)) all.Add(s);
        var train = all.Where(s => s.Split == "train").Select((s, i) => s with { Index = i }).ToList();
        var test = all.Where(s => s.Split == "test").ToList();

        manual_seed(seed);
        var parts = recipe.Build(options, new BuildContext(CPU, spec));
        var setup = new TrainerSetup(name, parts, recipe.Training with { Steps = steps, Batch = batch, WarmupSteps = Math.Max(1, steps / 20), CheckpointEvery = 0 }, seed, CPU, ScalarType.Float32);
        var clock = Stopwatch.StartNew();
        var losses = new List<double>();
        using (var trainer = new Trainer(setup, new SampleSet(train)))
        {
            trainer.Run(steps, CancellationToken.None, r =>
            {
                losses.Add(r.Loss);
                if (r.Step % 50 == 0) Console.Error.WriteLine($"{name} seed {seed}: step {r.Step}/{steps} loss {r.Loss:F4}");
            });
            trainer.Model.eval();
            double trainS = clock.Elapsed.TotalSeconds;
            // A fixed subset for the probe: every k-th sample of each split (deterministic, class-balanced enough).
            var pTrain = train.Where((_, i) => i % Math.Max(1, train.Count / probeTrain) == 0).Take(probeTrain).ToList();
            var pTest = test.Where((_, i) => i % Math.Max(1, test.Count / probeTest) == 0).Take(probeTest).ToList();
            double accuracy = ProbeAccuracy(parts, pTrain, pTest, seed);
            BenchArgs.Emit(new
            {
                @case = Name, recipe = name, seed, steps, batch, patch = options.Patch, tokens = (28 / options.Patch) * (28 / options.Patch),
                final_loss = Math.Round(losses.Skip(Math.Max(0, losses.Count - 20)).Average(), 4),
                probe_accuracy = Math.Round(accuracy, 4), probe_train = pTrain.Count, probe_test = pTest.Count,
                train_s = Math.Round(trainS, 1), load1 = MaeTiny.Load1(),
            });
        }
        return 0;
    }

    static double ProbeAccuracy(ModelParts parts, List<Sample> train, List<Sample> test, long seed)
    {
        using var scope = NewDisposeScope();
        var trainX = Probe.Features(parts, train, CPU, ScalarType.Float32);
        var testX = Probe.Features(parts, test, CPU, ScalarType.Float32);
        return Probe.Linear(trainX, train.Select(s => (long)s.Label!.Value).ToArray(), testX, test.Select(s => (long)s.Label!.Value).ToArray(), seed);
    }
}
