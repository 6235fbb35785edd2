using System.Text.Json;
using Maskwork.Abstractions;
using Maskwork.Backend.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Graph.Tests;

public class ProbeAndOptimizerTests
{
    [Fact]
    public void L2_mode_equals_torch_Adam_with_weight_decay()
    {
        manual_seed(11);
        var shapes = new long[][] { [4, 3], [3], [1, 5] };
        var ours = shapes.Select(s => nn.Parameter(randn(s))).ToList();
        var theirs = ours.Select(p => nn.Parameter(p.detach().clone())).ToList();
        var flat = new FlatAdamW(ours.Select((p, i) => new OptimizedParameter($"p{i}", p, true)).ToList(), 0.9, 0.999, 2e-2, mode: WeightDecayMode.L2);
        var reference = optim.Adam(theirs, 1e-2, beta1: 0.9, beta2: 0.999, weight_decay: 2e-2);
        for (int step = 0; step < 10; step++)
        {
            double lr = 1e-2 * (1 + step % 3);
            foreach (var g in reference.ParamGroups) g.LearningRate = lr;
            var target = randn(1);
            foreach (var set in new[] { ours, theirs })
                (set.Select(p => (p * p).sum() * target).Aggregate((a, b) => a + b) + set[0].sum().pow(3)).backward();
            flat.Step(flat.FlatGradient(), lr);
            flat.ZeroGrad();
            reference.step();
            reference.zero_grad();
        }
        for (int i = 0; i < ours.Count; i++) Assert.True(ours[i].allclose(theirs[i], rtol: 1e-5, atol: 1e-6), $"parameter {i} differs");
    }

    [Fact]
    public void Weight_decay_mode_reads_and_writes_as_snake_case_json()
    {
        var json = OptionsJson.ToJson(new TrainOptions { WeightDecayMode = WeightDecayMode.L2 });
        Assert.Equal("l2", json["weight_decay_mode"]!.GetValue<string>());
        json["weight_decay_mode"] = "decoupled";
        Assert.Equal(WeightDecayMode.Decoupled, ((TrainOptions)OptionsJson.FromJson(json, typeof(TrainOptions))).WeightDecayMode);
        json.Remove("weight_decay_mode");
        Assert.Equal(WeightDecayMode.Decoupled, ((TrainOptions)OptionsJson.FromJson(json, typeof(TrainOptions))).WeightDecayMode);
        json["weight_decay_mode"] = "sideways";
        Assert.Throws<JsonException>(() => OptionsJson.FromJson(json, typeof(TrainOptions)));
    }

    static NodeFeatures Clusters(int perClass, long seed)
    {
        // Three Gaussian clusters; splits cycle train/val/test/none.
        manual_seed(seed);
        int n = perClass * 3;
        var labels = Enumerable.Range(0, n).Select(i => (long)(i % 3)).ToArray();
        var centres = tensor(new float[] { 3, 0, 0, 0, 3, 0, 0, 0, 3 }, [3, 3]);
        var x = centres.index_select(0, tensor(labels)) + randn(n, 3) * 0.5f;
        var splits = Enumerable.Range(0, n).Select(i => (long)((i / 3) % 4 == 3 ? NodeProbe.None : (i / 3) % 4 + 1)).ToArray();
        return new NodeFeatures(x, labels, splits);
    }

    [Fact]
    public void Node_probe_trains_on_train_selects_on_val_and_scores_test()
    {
        using var nodes = Clusters(40, 1);
        var r = NodeProbe.Linear(nodes, 0, new NodeProbeOptions(100, 0.05, 1e-4));
        Assert.Equal((30, 30, 30), (r.TrainCount, r.ValCount, r.TestCount));
        Assert.True(r.TestAccuracy > 0.95, $"test accuracy {r.TestAccuracy}");
        Assert.InRange(r.BestEpoch, 0, 99);
        Assert.Equal(r.TestAccuracy, NodeProbe.Linear(nodes, 0, new NodeProbeOptions(100, 0.05, 1e-4)).TestAccuracy);

        // Scrambled labels on the train nodes: nothing to learn, the probe must fall to chance.
        var scrambled = nodes with { Labels = nodes.Labels.Select((l, i) => nodes.Splits[i] == NodeProbe.Train ? (l + i) % 3 : l).ToArray() };
        Assert.True(NodeProbe.Linear(scrambled, 0, new NodeProbeOptions(100, 0.05, 1e-4)).TestAccuracy < 0.7);
        Assert.True(NodeProbe.Knn(nodes, 0, k: 5).TestAccuracy > 0.95);
    }

    [Fact]
    public void Node_probe_options_come_from_model_options()
    {
        var model = OptionsJson.ToJson(new { probe_epochs = 50, probe_weight_decay = 0.01 });
        Assert.Equal(new NodeProbeOptions(50, 0.01, 0.01), NodeProbeOptions.From(model));
        Assert.Equal(new NodeProbeOptions(), NodeProbeOptions.From(null));
    }
}
