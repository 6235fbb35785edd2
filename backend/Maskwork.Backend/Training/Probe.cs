using Maskwork.Abstractions;
using TorchSharp;
using static TorchSharp.torch;
using TorchDevice = TorchSharp.torch.Device;

namespace Maskwork.Backend.Training;

/// <summary>Settings of the linear probe (softmax regression on frozen features).</summary>
public sealed record LinearProbeOptions(int Epochs = 30, int Batch = 256, double Lr = 1e-3, double WeightDecay = 1e-4)
{
    /// <summary>
    /// A BatchNorm without affine parameters before the linear head (facebookresearch/mae <c>main_linprobe.py</c>):
    /// batch statistics while training, running ones when scoring. False: features standardised with the train
    /// split's mean and standard deviation instead.
    /// </summary>
    public bool BatchNorm { get; init; } = true;
}

/// <summary>How <see cref="Probe.Features"/> pools an encoder's tokens into one vector per sample.</summary>
public enum FeaturePooling
{
    /// <summary>The mean over tokens [N, D] (MAE's linear probe).</summary>
    Mean,
    /// <summary>The per-dimension max beside the mean [N, 2D]: the point-cloud MAEs' linear-SVM protocol (Point-M2AE, ReCon).</summary>
    MeanMax,
}

/// <summary>
/// Which features a probe reads: the pooling, and the encoder layer (<see langword="null"/>: the encoder's output;
/// k: the tokens after its first k blocks, 0 the embedding — the encoder must be an <see cref="Nn.ILayeredEncoder"/>).
/// </summary>
public sealed record FeatureReadout(FeaturePooling Pooling = FeaturePooling.Mean, int? Layer = null);

/// <summary>Probes on frozen features: linear (softmax regression) and k-NN (cosine, temperature-weighted votes).</summary>
public static class Probe
{
    /// <summary>Mean-pooled encoder features [N,D] of every sample, all tokens visible, no gradients.</summary>
    public static Tensor Features(ModelParts parts, IReadOnlyList<Sample> samples, TorchDevice device, ScalarType precision, int batch = 256, IProgress<int>? progress = null) =>
        Features(parts, samples, device, precision, FeaturePooling.Mean, batch, progress);

    /// <summary>Pooled encoder features [N,D] (mean) or [N,2D] (mean and max) of every sample, all tokens visible, no gradients.</summary>
    public static Tensor Features(ModelParts parts, IReadOnlyList<Sample> samples, TorchDevice device, ScalarType precision, FeaturePooling pooling, int batch = 256, IProgress<int>? progress = null) =>
        Features(parts, samples, device, precision, new FeatureReadout(pooling), batch, progress);

    /// <summary>Pooled features of every sample read at <paramref name="readout"/>'s layer, all tokens visible, no gradients.</summary>
    public static Tensor Features(ModelParts parts, IReadOnlyList<Sample> samples, TorchDevice device, ScalarType precision, FeatureReadout readout, int batch = 256, IProgress<int>? progress = null)
    {
        var pooling = readout.Pooling;
        // The layer's range is the encoder's to check (EncodeThrough throws ArgumentOutOfRangeException).
        var layered = readout.Layer is null ? null : parts.Encoder as Nn.ILayeredEncoder
            ?? throw new ArgumentException($"{parts.Encoder.GetType().Name} does not read out its inner layers; probe its output (no layer)");
        var chunks = new List<Tensor>();
        using var _ = no_grad();
        using var __ = Devices.Precision.Use(precision);
        (parts.Encoder as nn.Module)?.eval();
        for (int i = 0; i < samples.Count; i += batch)
        {
            using var scope = NewDisposeScope();
            var slice = samples.Skip(i).Take(batch).ToList();
            var tokens = parts.Tokenizer.Tokenize(slice, device);
            var plan = MaskPlan.None(tokens.BatchSize, tokens.TokenCount, device);
            var latent = (layered is null ? parts.Encoder.Encode(tokens, plan).Latent : layered.EncodeThrough(tokens, plan, readout.Layer!.Value)).to_type(ScalarType.Float32);
            var pooled = pooling == FeaturePooling.MeanMax ? cat([latent.mean([1L]), latent.amax([1L])], 1) : latent.mean([1L]);
            chunks.Add(pooled.cpu().MoveToOuterDisposeScope());
            progress?.Report(Math.Min(samples.Count, i + batch));
        }
        var all = cat(chunks, 0);
        foreach (var c in chunks) c.Dispose();
        return all;
    }

    /// <summary>Trains softmax regression on <paramref name="trainX"/> and returns accuracy on <paramref name="testX"/>.</summary>
    public static double Linear(Tensor trainX, long[] trainY, Tensor testX, long[] testY, long seed, LinearProbeOptions? options = null)
    {
        options ??= new LinearProbeOptions();
        using var scope = NewDisposeScope();
        manual_seed(seed);
        int classes = (int)Math.Max(trainY.Max(), testY.Max()) + 1;
        Tensor xTrain = trainX, xTest = testX;
        if (!options.BatchNorm)
        {
            var mean = trainX.mean([0L], keepdim: true);
            var std = trainX.std(0, keepdim: true) + 1e-6;
            xTrain = (trainX - mean) / std;
            xTest = (testX - mean) / std;
        }
        var yTrain = tensor(trainY);
        var linear = nn.Linear(trainX.shape[1], classes);
        nn.Module<Tensor, Tensor> head = options.BatchNorm
            ? nn.Sequential(nn.BatchNorm1d(trainX.shape[1], eps: 1e-6, affine: false), linear)
            : linear;
        head.train();
        var optimizer = optim.AdamW(head.parameters(), options.Lr, weight_decay: options.WeightDecay);
        long n = xTrain.shape[0];
        int steps = options.Epochs * (int)Math.Ceiling(n / (double)options.Batch), step = 0;
        var rng = new Generator((ulong)seed);
        for (int epoch = 0; epoch < options.Epochs; epoch++)
        {
            var perm = randperm(n, generator: rng);
            for (long i = 0; i < n; i += options.Batch)
            {
                using var inner = NewDisposeScope();
                foreach (var g in optimizer.ParamGroups) g.LearningRate = options.Lr * 0.5 * (1 + Math.Cos(Math.PI * step / steps));
                var idx = perm.narrow(0, i, Math.Min(options.Batch, n - i));
                var loss = nn.functional.cross_entropy(head.forward(xTrain.index_select(0, idx)), yTrain.index_select(0, idx));
                optimizer.zero_grad();
                loss.backward();
                optimizer.step();
                step++;
            }
        }
        using var _ = no_grad();
        head.eval();
        var predicted = head.forward(xTest).argmax(1);
        return predicted.eq(tensor(testY)).to_type(ScalarType.Float32).mean().item<float>();
    }

    /// <summary>k-NN on cosine similarity with exp(sim/τ) weighted votes (as in DINO's evaluation).</summary>
    public static double Knn(Tensor trainX, long[] trainY, Tensor testX, long[] testY, int k = 20, double temperature = 0.07)
    {
        using var scope = NewDisposeScope();
        int classes = (int)Math.Max(trainY.Max(), testY.Max()) + 1;
        var train = nn.functional.normalize(trainX, dim: 1);
        var test = nn.functional.normalize(testX, dim: 1);
        var labels = tensor(trainY);
        k = (int)Math.Min(k, train.shape[0]);
        long correct = 0;
        for (long i = 0; i < test.shape[0]; i += 1024)
        {
            using var inner = NewDisposeScope();
            var chunk = test.narrow(0, i, Math.Min(1024, test.shape[0] - i));
            var (sim, idx) = chunk.matmul(train.T).topk(k, dim: 1);
            var votes = zeros(chunk.shape[0], classes).scatter_add_(1, labels[idx], (sim / temperature).exp());
            var truth = tensor(testY.AsSpan((int)i, (int)chunk.shape[0]).ToArray());
            correct += votes.argmax(1).eq(truth).sum().item<long>();
        }
        return correct / (double)test.shape[0];
    }
}
