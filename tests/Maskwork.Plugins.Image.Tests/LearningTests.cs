using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Training;
using Maskwork.Plugins.Image.Readers;
using Maskwork.Plugins.Image.Recipes;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Image.Tests;

public class LearningTests
{
    static async Task<List<Sample>> Load(string split, int count)
    {
        var list = new List<Sample>();
        await foreach (var s in new IdxReader("fashion-mnist", "fashion-mnist").ReadAsync(new DataSpec("fashion-mnist", "") { Split = split }, new DataIssueLog(), CancellationToken.None))
        {
            list.Add(s);
            if (list.Count == count) break;
        }
        return list;
    }

    /// <summary>A short pretrain of a tiny image/mae must beat the same encoder at random init on a linear probe.</summary>
    [Fact]
    public async Task Short_pretrain_beats_random_init_on_a_linear_probe()
    {
        set_num_threads(2);
        var train = await Load("train", 4000);
        var test = await Load("test", 2000);
        var recipe = new ImageMaeRecipe("image/mae", "", block: false);
        var options = new ImageMaeOptions { EncoderDim = 64, EncoderDepth = 2, EncoderHeads = 4, DecoderDim = 32, DecoderDepth = 1, DecoderHeads = 2 };
        var setupOptions = recipe.Training with { Steps = 500, Batch = 64, WarmupSteps = 25, Lr = 2e-3 };

        double Accuracy(ModelParts parts)
        {
            var trainX = Probe.Features(parts, train, CPU, ScalarType.Float32);
            var testX = Probe.Features(parts, test, CPU, ScalarType.Float32);
            return Probe.Linear(trainX, train.Select(s => (long)s.Label!.Value).ToArray(), testX, test.Select(s => (long)s.Label!.Value).ToArray(), 0,
                new LinearProbeOptions(Epochs: 40, Lr: 1e-2));
        }

        manual_seed(3);
        var random = recipe.Build(options, new BuildContext(CPU, new DataSpec("fashion-mnist", "")));
        double before = Accuracy(random);

        manual_seed(3);
        var parts = recipe.Build(options, new BuildContext(CPU, new DataSpec("fashion-mnist", "")));
        using var trainer = new Trainer(new TrainerSetup("image/mae", parts, setupOptions, 3, CPU, ScalarType.Float32), new SampleSet(train));
        var losses = new List<double>();
        trainer.Run(setupOptions.Steps, CancellationToken.None, r => losses.Add(r.Loss));
        trainer.Model.eval();
        double after = Accuracy(parts);

        Assert.True(losses.Skip(480).Average() < losses.Take(20).Average() * 0.8, $"loss should fall: {losses.Take(20).Average():F3} → {losses.Skip(480).Average():F3}");
        Assert.True(after > before + 0.02, $"pretrained probe {after:F3} should beat random init {before:F3}");
    }
}
