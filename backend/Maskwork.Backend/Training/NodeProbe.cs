using System.Text.Json.Nodes;
using Maskwork.Abstractions;
using TorchSharp;
using static TorchSharp.torch;
using TorchDevice = TorchSharp.torch.Device;

namespace Maskwork.Backend.Training;

/// <summary>
/// Settings of the node-classification probe (GraphMAE's linear probe: full-batch Adam with L2 weight decay).
/// A recipe overrides them through its model options <c>probe_epochs</c>, <c>probe_lr</c>, <c>probe_weight_decay</c>.
/// </summary>
public sealed record NodeProbeOptions(int Epochs = 300, double Lr = 0.01, double WeightDecay = 1e-4)
{
    /// <summary>The defaults, overridden by whichever <c>probe_*</c> keys a run's model options carry.</summary>
    public static NodeProbeOptions From(JsonObject? model)
    {
        var o = new NodeProbeOptions();
        if (model is null) return o;
        if (model["probe_epochs"] is JsonValue e) o = o with { Epochs = e.GetValue<int>() };
        if (model["probe_lr"] is JsonValue lr) o = o with { Lr = lr.GetValue<double>() };
        if (model["probe_weight_decay"] is JsonValue wd) o = o with { WeightDecay = wd.GetValue<double>() };
        if (o.Epochs <= 0 || o.Lr <= 0 || o.WeightDecay < 0) throw new ArgumentException($"bad node probe settings {o}");
        return o;
    }
}

/// <summary>Frozen per-node features [M, D] with each node's class (−1 unknown) and split code.</summary>
public sealed record NodeFeatures(Tensor Features, long[] Labels, long[] Splits) : IDisposable
{
    public int Count(long split) => Splits.Zip(Labels).Count(p => p.First == split && p.Second >= 0);

    public void Dispose() => Features.Dispose();
}

/// <summary>Test accuracy of the model selected on validation accuracy.</summary>
public sealed record NodeProbeResult(double TestAccuracy, double ValAccuracy, int BestEpoch, int TrainCount, int ValCount, int TestCount);

/// <summary>
/// Probes for <see cref="ProbeLevel.Token"/> models (graph nodes): per-token features of the whole graph, and a
/// linear classifier trained on the train nodes, selected on the val nodes, scored on the test nodes
/// (GraphMAE's transductive linear probe). Tokenizers of such models put per-token labels [B, N] in
/// <see cref="TokenBatch.Labels"/> and split codes [B, N] in <c>Extras[<see cref="SplitKey"/>]</c>.
/// </summary>
public static class NodeProbe
{
    /// <summary>Extras key of the per-token split codes.</summary>
    public const string SplitKey = "token_split";

    /// <summary>Split codes.</summary>
    public const long None = 0, Train = 1, Val = 2, Test = 3;

    /// <summary>Every token's encoder feature (all tokens visible, no gradients, eval mode, then the encoder's mode restored), one sample at a time.</summary>
    public static NodeFeatures Features(ModelParts parts, IReadOnlyList<Sample> samples, TorchDevice device, ScalarType precision)
    {
        var chunks = new List<Tensor>();
        var labels = new List<long>();
        var splits = new List<long>();
        using var _ = no_grad();
        using var __ = Devices.Precision.Use(precision);
        var encoder = parts.Encoder as nn.Module;
        bool wasTraining = encoder?.training ?? false;
        encoder?.eval();
        try
        {
            foreach (var sample in samples)
            {
                using var scope = NewDisposeScope();
                var tokens = parts.Tokenizer.Tokenize([sample], device);
                var latent = parts.Encoder.Encode(tokens, MaskPlan.None(tokens.BatchSize, tokens.TokenCount, device)).Latent;
                long n = tokens.BatchSize * tokens.TokenCount;
                var keep = tokens.Padding is { } pad ? pad.reshape(-1).logical_not() : ones(n, dtype: ScalarType.Bool, device: device);
                var y = tokens.Labels is { } l && l.numel() == n ? l.reshape(-1) : full(n, -1L, device: device);
                var s = tokens.Extras.TryGetValue(SplitKey, out var sp) ? sp.reshape(-1) : full(n, None, device: device);
                var index = keep.nonzero().view(-1);
                chunks.Add(latent.reshape(n, -1).index_select(0, index).to_type(ScalarType.Float32).cpu().MoveToOuterDisposeScope());
                labels.AddRange(y.index_select(0, index).to_type(ScalarType.Int64).cpu().data<long>().ToArray());
                splits.AddRange(s.index_select(0, index).to_type(ScalarType.Int64).cpu().data<long>().ToArray());
            }
        }
        finally
        {
            if (wasTraining) encoder!.train();
        }
        var all = cat(chunks, 0);
        foreach (var c in chunks) c.Dispose();
        return new NodeFeatures(all, labels.ToArray(), splits.ToArray());
    }

    /// <summary>
    /// When no labelled token has a train split, a seeded 60/20/20 train/val/test split of the labelled tokens;
    /// otherwise the splits as given.
    /// </summary>
    public static long[] EffectiveSplits(NodeFeatures nodes, long seed)
    {
        if (Enumerable.Range(0, nodes.Labels.Length).Any(i => nodes.Labels[i] >= 0 && nodes.Splits[i] == Train)) return nodes.Splits;
        var labelled = Enumerable.Range(0, nodes.Labels.Length).Where(i => nodes.Labels[i] >= 0).ToArray();
        new Random((int)(seed & 0x7fffffff)).Shuffle(labelled);
        var splits = new long[nodes.Labels.Length];
        for (int k = 0; k < labelled.Length; k++) splits[labelled[k]] = k < labelled.Length * 0.6 ? Train : k < labelled.Length * 0.8 ? Val : Test;
        return splits;
    }

    /// <summary>
    /// Logistic regression on the train nodes, full batch, Adam with L2 (<paramref name="options"/>); after each epoch
    /// the val and test accuracies are measured and the test accuracy of the last epoch with the best val accuracy is
    /// returned (GraphMAE's early-stopping accuracy). Features are used as they are (no standardisation).
    /// </summary>
    public static NodeProbeResult Linear(NodeFeatures nodes, long seed, NodeProbeOptions? options = null)
    {
        options ??= new NodeProbeOptions();
        using var scope = NewDisposeScope();
        var splits = EffectiveSplits(nodes, seed);
        long[] Pick(long split) => Enumerable.Range(0, splits.Length).Where(i => splits[i] == split && nodes.Labels[i] >= 0).Select(i => (long)i).ToArray();
        long[] train = Pick(Train), val = Pick(Val), test = Pick(Test);
        if (train.Length == 0 || test.Length == 0) throw new ArgumentException($"a node probe needs labelled train and test nodes (got {train.Length} train, {test.Length} test)");
        int classes = (int)nodes.Labels.Max() + 1;
        var x = nodes.Features;
        var y = tensor(nodes.Labels);
        var trainIdx = tensor(train);
        var xTrain = x.index_select(0, trainIdx);
        var yTrain = y.index_select(0, trainIdx);
        Tensor valIdx = tensor(val), testIdx = tensor(test);
        var yVal = y.index_select(0, valIdx);
        var yTest = y.index_select(0, testIdx);

        manual_seed(seed);
        var head = nn.Linear(x.shape[1], classes);
        var optimizer = optim.Adam(head.parameters(), options.Lr, weight_decay: options.WeightDecay);
        double bestVal = double.NegativeInfinity, bestTest = 0;
        int bestEpoch = -1;
        for (int epoch = 0; epoch < options.Epochs; epoch++)
        {
            using var inner = NewDisposeScope();
            head.train();
            var loss = nn.functional.cross_entropy(head.forward(xTrain), yTrain);
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
            using var _ = no_grad();
            head.eval();
            var predicted = head.forward(x).argmax(1);
            double valAcc = val.Length == 0 ? 0 : Accuracy(predicted.index_select(0, valIdx), yVal);
            if (valAcc >= bestVal)
            {
                bestVal = valAcc;
                bestTest = Accuracy(predicted.index_select(0, testIdx), yTest);
                bestEpoch = epoch;
            }
        }
        return new NodeProbeResult(bestTest, bestVal, bestEpoch, train.Length, val.Length, test.Length);
    }

    /// <summary>k-NN (cosine, temperature-weighted votes) from the train nodes to the test nodes.</summary>
    public static NodeProbeResult Knn(NodeFeatures nodes, long seed, int k = 20)
    {
        var splits = EffectiveSplits(nodes, seed);
        int[] Pick(long split) => Enumerable.Range(0, splits.Length).Where(i => splits[i] == split && nodes.Labels[i] >= 0).ToArray();
        int[] train = Pick(Train), test = Pick(Test);
        if (train.Length == 0 || test.Length == 0) throw new ArgumentException($"a node probe needs labelled train and test nodes (got {train.Length} train, {test.Length} test)");
        using var scope = NewDisposeScope();
        var x = nodes.Features;
        double accuracy = Probe.Knn(x.index_select(0, tensor(train.Select(i => (long)i).ToArray())), train.Select(i => nodes.Labels[i]).ToArray(),
            x.index_select(0, tensor(test.Select(i => (long)i).ToArray())), test.Select(i => nodes.Labels[i]).ToArray(), k);
        return new NodeProbeResult(accuracy, double.NaN, -1, train.Length, Pick(Val).Length, test.Length);
    }

    static double Accuracy(Tensor predicted, Tensor truth) => predicted.eq(truth).to_type(ScalarType.Float32).mean().item<float>();
}
