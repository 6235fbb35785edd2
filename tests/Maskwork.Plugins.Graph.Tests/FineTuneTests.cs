using Maskwork.Abstractions;
using Maskwork.Backend.Training;
using Maskwork.Plugins.Graph.Recipes;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Graph.Tests;

public class NodeFineTuneTests
{
    static FineTuner NewTuner(GraphSample graph, FineTuneOptions options)
    {
        var recipe = GraphMaeRecipe.Cora();
        manual_seed(0);
        var parts = recipe.Build(new GraphMaeOptions { Hidden = 16, Heads = 2, Features = 64 }, new BuildContext(CPU, new DataSpec("planetoid", "")));
        return new FineTuner(new FineTuneSetup(recipe.Name, parts, options, 0, 3, CPU, ScalarType.Float32), new FineTuneData([graph], [], []));
    }

    [Fact]
    public void Node_level_fine_tuning_learns_the_communities_on_the_given_splits_and_resumes_exactly()
    {
        var graph = TinyGraphs.Communities(4, 50, 64, seed: 1); // splits cycle none/train/val/test over the nodes
        var options = FineTuneOptions.ForTokens() with { Epochs = 30, Lr = 0.01, WarmupEpochs = 3, CheckpointEvery = 0 };
        using var straight = NewTuner(graph, options);
        Assert.Equal((50, 50, 50), (straight.TrainCount, straight.ValCount, straight.TestCount));
        Assert.Equal(30, straight.TotalSteps); // full batch: a step is an epoch
        straight.Run(long.MaxValue, CancellationToken.None);
        Assert.Equal(30, straight.History.Count);
        Assert.True(straight.Best!.TestAccuracy > 0.8, $"test accuracy {straight.Best.TestAccuracy} on 4 separable communities");

        string path = Path.Combine(Path.GetTempPath(), $"mw-node-ft-{Environment.ProcessId}.ckpt");
        try
        {
            using (var first = NewTuner(graph, options))
            {
                first.Run(12, CancellationToken.None);
                first.Save(path);
            }
            using var second = NewTuner(graph, options);
            second.Load(path);
            second.Run(long.MaxValue, CancellationToken.None);
            Assert.True(straight.Optimizer.Parameters.Same(second.Optimizer.Parameters), "a resumed node fine-tune must retrace the uninterrupted one");
            Assert.Equal(straight.History, second.History);
        }
        finally { File.Delete(path); }
    }
}
