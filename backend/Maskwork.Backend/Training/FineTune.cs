using System.ComponentModel;
using System.Text.RegularExpressions;
using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Nn;
using TorchSharp;
using static TorchSharp.torch;
using TorchDevice = TorchSharp.torch.Device;

namespace Maskwork.Backend.Training;

/// <summary>
/// Settings of supervised fine-tuning (MAE's <c>main_finetune.py</c> recipe, sized for a CPU). JSON snake_case,
/// overridable as <c>--set finetune.&lt;name&gt;=value</c>. Graph (token-level) recipes start from <see cref="ForTokens"/>.
/// </summary>
public sealed record FineTuneOptions
{
    [Description("passes over the labelled train split (a step is a batch; for graphs, full batch, a step is an epoch)")]
    public int Epochs { get; init; } = 4;

    [Description("samples per step (sample-level recipes)")]
    public int Batch { get; init; } = 128;

    [Description("base learning rate; the peak is base_lr × batch / 256 (MAE)")]
    public double BaseLr { get; init; } = 2e-3;

    [Description("absolute peak learning rate; wins over base_lr when set")]
    public double? Lr { get; init; }

    [Description("layer-wise lr decay: block i of L gets lr·d^(L−i), embeddings lr·d^(L+1), norm and head lr (BEiT/MAE); 1 disables (the from-scratch default)")]
    public double LayerDecay { get; init; } = 0.75;

    [Description("decoupled weight decay (AdamW); never on biases, norms, tokens or positional tables")]
    public double WeightDecay { get; init; } = 0.05;

    [Description("Adam β1")]
    public double Beta1 { get; init; } = 0.9;

    [Description("Adam β2")]
    public double Beta2 { get; init; } = 0.999;

    [Description("linear warm-up length in epochs (fractions allowed), then half-cosine to min_lr")]
    public double WarmupEpochs { get; init; } = 0.5;

    [Description("floor of the cosine schedule")]
    public double MinLr { get; init; } = 1e-6;

    [Description("label smoothing of the cross-entropy loss")]
    public double LabelSmoothing { get; init; } = 0.1;

    [Description("stochastic depth: drop-path rate of the last transformer block, rising linearly from 0 at the first")]
    public double DropPath { get; init; } = 0.1;

    [Description("global gradient-norm clip; 0 disables (MAE fine-tunes without)")]
    public double ClipGrad { get; init; }

    [Description("share of the train split held out, seeded, to choose the epoch when the data has no val split")]
    public double ValFraction { get; init; } = 0.1;

    [Description("train on a seeded subset of this many labelled samples (after the hold-out; sized for minutes on 2 CPU cores); 0 = all")]
    public int TrainLimit { get; init; } = 10_000;

    [Description("evaluate on seeded subsets of at most this many val and of this many test samples; 0 = all (for recipes whose evaluation outweighs a short fine-tune, e.g. point clouds)")]
    public int EvalLimit { get; init; }

    [Description("pooling of the head: auto (the encoder's global token when it has one, else mean), mean or global")]
    public string Pool { get; init; } = "auto";

    [Description("standard deviation of the head's initial weights (MAE: 2e-5)")]
    public double HeadInitStd { get; init; } = 2e-5;

    [Description("augment training images ([C,H,W]): random resized crop and flip; recipes that augment in their tokenizer (points) do so whenever the encoder trains")]
    public bool Augment { get; init; } = true;

    [Description("images: smallest crop area of the random resized crop, in (0, 1]; 1 = no crop, flips only (the default: crops slowed short fine-tunes down)")]
    public double CropMinScale { get; init; } = 1;

    [Description("images: probability of a horizontal flip")]
    public double FlipProbability { get; init; } = 0.5;

    [Description("samples per forward pass when evaluating")]
    public int EvalBatch { get; init; } = 512;

    [Description("write a checkpoint every this many steps (and at every epoch end)")]
    public int CheckpointEvery { get; init; } = 200;

    [Description("log a metrics row every this many steps")]
    public int LogEvery { get; init; } = 10;

    /// <summary>Defaults for node classification on one graph (full batch: a step is an epoch).</summary>
    public static FineTuneOptions ForTokens() => new()
    {
        Epochs = 200, Lr = 2e-3, WarmupEpochs = 10, WeightDecay = 0.05, TrainLimit = 0, LogEvery = 10, CheckpointEvery = 50,
    };

    /// <summary>Refuses values that cannot train, naming the option.</summary>
    public void Validate()
    {
        void Check(bool ok, string what) { if (!ok) throw new ArgumentException($"finetune.{what}"); }
        Check(Epochs >= 0, $"epochs must be non-negative, got {Epochs}");
        Check(Batch > 0, $"batch must be positive, got {Batch}");
        Check(BaseLr >= 0 && Lr is null or >= 0, "base_lr and lr must be non-negative");
        Check(LayerDecay is > 0 and <= 1, $"layer_decay must be in (0, 1], got {LayerDecay}");
        Check(WeightDecay >= 0 && MinLr >= 0 && ClipGrad >= 0 && WarmupEpochs >= 0, "weight_decay, min_lr, clip_grad and warmup_epochs must be non-negative");
        Check(LabelSmoothing is >= 0 and < 1, $"label_smoothing must be in [0, 1), got {LabelSmoothing}");
        Check(DropPath is >= 0 and < 1, $"drop_path must be in [0, 1), got {DropPath}");
        Check(ValFraction is > 0 and < 1, $"val_fraction must be in (0, 1), got {ValFraction}");
        Check(TrainLimit >= 0, $"train_limit must be non-negative, got {TrainLimit}");
        Check(EvalLimit >= 0, $"eval_limit must be non-negative, got {EvalLimit}");
        Check(Pool is "auto" or "mean" or "global", $"pool must be auto, mean or global, got '{Pool}'");
        Check(CropMinScale is > 0 and <= 1, $"crop_min_scale must be in (0, 1], got {CropMinScale}");
        Check(EvalBatch > 0 && LogEvery > 0 && CheckpointEvery >= 0, "eval_batch and log_every must be positive, checkpoint_every non-negative");
    }
}

/// <summary>
/// The labelled samples of a fine-tune. Sample level: train, val (the data's own, or a seeded hold-out of train)
/// and test. Token level (graphs): every graph in <see cref="Train"/>; the splits are per token.
/// </summary>
public sealed record FineTuneData(IReadOnlyList<Sample> Train, IReadOnlyList<Sample> Val, IReadOnlyList<Sample> Test)
{
    /// <summary>Whether <see cref="Val"/> was held out of the train split (the data had none).</summary>
    public bool HeldOut { get; init; }

    /// <summary>
    /// Splits labelled samples by <see cref="Sample.Split"/>: "val" is the val split; without one a seeded
    /// <paramref name="valFraction"/> of train is held out. With no "test" split a stable 20 % of train (by source
    /// name) is the test set. <paramref name="trainLimit"/> &gt; 0 keeps a seeded subset of the remaining train.
    /// </summary>
    public static FineTuneData Split(IReadOnlyList<Sample> samples, double valFraction, int trainLimit, long seed) =>
        Split(samples, valFraction, trainLimit, evalLimit: 0, seed);

    /// <summary>As <see cref="Split(IReadOnlyList{Sample}, double, int, long)"/>; <paramref name="evalLimit"/> &gt; 0 keeps seeded subsets of at most that many val and test samples.</summary>
    public static FineTuneData Split(IReadOnlyList<Sample> samples, double valFraction, int trainLimit, int evalLimit, long seed)
    {
        var labelled = samples.Where(s => s.Label is not null).ToList();
        var train = labelled.Where(s => s.Split is null or "train").ToList();
        var val = labelled.Where(s => s.Split == "val").ToList();
        var test = labelled.Where(s => s.Split == "test").ToList();
        if (test.Count == 0)
        {
            test = train.Where(s => (uint)StableHash(s.Source) % 5 == 0).ToList();
            train = train.Where(s => (uint)StableHash(s.Source) % 5 != 0).ToList();
        }
        bool heldOut = val.Count == 0;
        var order = Enumerable.Range(0, train.Count).ToArray();
        new Random((int)(SeedMix.Of(seed, 0x7a1, 0) & 0x7fffffff)).Shuffle(order);
        if (heldOut)
        {
            int count = Math.Min(train.Count - 1, Math.Max(1, (int)Math.Round(train.Count * valFraction)));
            val = order.Take(count).Order().Select(i => train[i]).ToList();
            order = order.Skip(count).ToArray();
        }
        if (trainLimit > 0 && trainLimit < order.Length) order = order.Take(trainLimit).ToArray();
        if (evalLimit > 0)
        {
            val = Subset(val, evalLimit, SeedMix.Of(seed, 0x7a1, 1));
            test = Subset(test, evalLimit, SeedMix.Of(seed, 0x7a1, 2));
        }
        return new FineTuneData(order.Order().Select(i => train[i]).ToList(), val, test) { HeldOut = heldOut };
    }

    /// <summary>A seeded subset of at most <paramref name="limit"/> samples, in their original order.</summary>
    static List<Sample> Subset(List<Sample> samples, int limit, long seed)
    {
        if (samples.Count <= limit) return samples;
        var order = Enumerable.Range(0, samples.Count).ToArray();
        new Random((int)(seed & 0x7fffffff)).Shuffle(order);
        return order.Take(limit).Order().Select(i => samples[i]).ToList();
    }

    static int StableHash(string s)
    {
        unchecked
        {
            int h = (int)2166136261;
            foreach (char c in s) h = (h ^ c) * 16777619;
            return h;
        }
    }
}

/// <summary>
/// A recipe's encoder with a classification head: pooled tokens (mean, or the encoder's global token) → LayerNorm →
/// linear (MAE's fine-tuning head); for token-level recipes every token → LayerNorm → linear. All tokens visible.
/// </summary>
public sealed class Classifier : nn.Module
{
    readonly nn.Module encoder;
    readonly Norm fc_norm;
    readonly Dense head;

    public Classifier(ModelParts parts, int classes, string pool = "auto", double headInitStd = 2e-5) : base(nameof(Classifier))
    {
        Parts = parts;
        encoder = parts.Encoder as nn.Module ?? throw new ArgumentException($"encoder {parts.Encoder.GetType().Name} must be a torch.nn.Module");
        Pool = pool;
        Classes = classes;
        fc_norm = new Norm(parts.Encoder.Dim);
        head = new Dense(parts.Encoder.Dim, classes);
        using (no_grad())
        {
            var w = head.parameters().First();
            nn.init.trunc_normal_(w, 0, headInitStd, -2 * headInitStd, 2 * headInitStd);
        }
        RegisterComponents();
    }

    public ModelParts Parts { get; }
    public string Pool { get; }
    public int Classes { get; }

    /// <summary>Logits: [B, classes] for sample-level recipes, [B·N, classes] (every token) for token-level ones.</summary>
    public Tensor Logits(TokenBatch tokens)
    {
        var encoded = Parts.Encoder.Encode(tokens, MaskPlan.None(tokens.BatchSize, tokens.TokenCount, tokens.Tokens.device));
        Tensor features;
        if (Parts.ProbeLevel == ProbeLevel.Token) features = encoded.Latent.reshape(-1, encoded.Latent.shape[^1]);
        else if (Pool != "mean" && encoded.Global is { } global) features = global;
        else if (Pool == "global") throw new ArgumentException("finetune.pool=global: this recipe's encoder has no global token; use mean");
        else if (tokens.Padding is { } pad)
        {
            var keep = pad.logical_not().unsqueeze(-1).to_type(encoded.Latent.dtype);
            using var one = 1.ToScalar();
            features = (encoded.Latent * keep).sum(1) / keep.sum(1).clamp_min(one);
        }
        else features = encoded.Latent.mean([1L]);
        return head.forward(fc_norm.forward(features)).to_type(ScalarType.Float32);
    }

    /// <summary>
    /// Layer-wise learning-rate scales (BEiT, MAE's <c>param_groups_lrd</c>) by parameter name: a parameter of block
    /// i (a name with <c>blocks.i.</c> or <c>layers.i.</c>) is layer i + 1; parameters registered before the first
    /// block (embeddings, tokens, positions) are layer 0; those after the last (final norm, head) layer L + 1, for L
    /// blocks. Layer l gets <paramref name="decay"/>^(L + 1 − l).
    /// </summary>
    public static double[] LayerScales(IReadOnlyList<string> names, double decay)
    {
        var block = names.Select(n => Regex.Matches(n, @"(?:^|\.)(?:blocks|layers)\.(\d+)\.") is { Count: > 0 } m ? int.Parse(m[^1].Groups[1].Value) : -1).ToArray();
        int depth = block.Max() + 1;
        int first = Array.FindIndex(block, b => b >= 0);
        var layer = block.Select((b, i) => b >= 0 ? b + 1 : first >= 0 && i < first ? 0 : depth + 1).ToArray();
        return layer.Select(l => Math.Pow(decay, depth + 1 - l)).ToArray();
    }
}

/// <summary>Everything a fine-tune needs besides data.</summary>
public sealed record FineTuneSetup(string Recipe, ModelParts Parts, FineTuneOptions Options, int Classes, long Seed, TorchDevice Device, ScalarType Precision)
{
    /// <summary>Training-time augmentation of raw samples (images), seeded by (its seed, step); null for none.</summary>
    public ISampleAugment? Augment { get; init; }
}

/// <summary>One fine-tuning step.</summary>
public sealed record FineTuneStep(long Step, int Epoch, double Loss, double Lr, double SamplesPerSecond);

/// <summary>What one epoch gave: mean train loss, val and test accuracy.</summary>
public sealed record EpochResult(int Epoch, long Step, double TrainLoss, double ValAccuracy, double TestAccuracy);

/// <summary>
/// Supervised fine-tuning of a recipe's encoder with a <see cref="Classifier"/> head: AdamW (flat buffers) with
/// layer-wise lr decay, warm-up then cosine, label smoothing, stochastic depth, the recipe's augmentation; after
/// every epoch the val and test accuracies; the best epoch is the first with the highest val accuracy. Sample level:
/// a fresh seeded permutation of the train split per epoch. Token level (graphs): full batch, the loss on the train
/// tokens, accuracies on the val and test tokens. Every random choice of step k derives from (seed, k), and a
/// checkpoint holds model, optimizer, step and the epoch history, so a resumed fine-tune retraces an uninterrupted one.
/// </summary>
public sealed class FineTuner : IDisposable
{
    readonly FineTuneSetup setup;
    readonly FineTuneData data;
    readonly LrSchedule schedule;
    readonly Generator dropPaths = new(0);
    readonly List<EpochResult> history = [];
    readonly long[] trainLabels;
    int[] permutation = [];
    int permutationEpoch = -1;
    double epochLossSum;
    int epochLossCount;
    // Token level: the graph(s) tokenized once, and which tokens are train, val, test.
    readonly TokenBatch? graph;
    readonly Tensor? trainTokens, valTokens, testTokens, tokenLabels;

    public FineTuner(FineTuneSetup setup, FineTuneData data)
    {
        this.setup = setup;
        this.data = data;
        var o = setup.Options;
        o.Validate();
        Devices.NativeTuning.KeepFreedMemory();
        trainLabels = data.Train.Select(s => (long)(s.Label ?? -1)).ToArray();
        if (setup.Parts.ProbeLevel == ProbeLevel.Token)
        {
            if (data.Train.Count == 0) throw new ArgumentException("node-level fine-tuning needs a graph");
            using var scope = NewDisposeScope();
            graph = setup.Parts.Tokenizer.Tokenize(data.Train, setup.Device);
            long n = graph.BatchSize * graph.TokenCount;
            var labels = graph.Labels is { } l && l.numel() == n ? l.reshape(-1).to_type(ScalarType.Int64).cpu().data<long>().ToArray() : Enumerable.Repeat(-1L, (int)n).ToArray();
            var given = graph.Extras.TryGetValue(NodeProbe.SplitKey, out var sp) ? sp.reshape(-1).cpu().data<long>().ToArray() : new long[n];
            using var nodes = new NodeFeatures(empty(0), labels, given);
            var splits = NodeProbe.EffectiveSplits(nodes, setup.Seed);
            Tensor Pick(long split) => tensor(Enumerable.Range(0, (int)n).Where(i => splits[i] == split && labels[i] >= 0).Select(i => (long)i).ToArray(), device: setup.Device);
            trainTokens = Pick(NodeProbe.Train); valTokens = Pick(NodeProbe.Val); testTokens = Pick(NodeProbe.Test);
            tokenLabels = tensor(labels, device: setup.Device);
            if (trainTokens.numel() == 0 || testTokens.numel() == 0) throw new ArgumentException($"node-level fine-tuning needs labelled train and test nodes (got {trainTokens.numel()} train, {testTokens.numel()} test)");
            TrainCount = (int)trainTokens.numel(); ValCount = (int)valTokens.numel(); TestCount = (int)testTokens.numel();
            foreach (var t in PreparedBatch.TensorsOf(graph).Concat([trainTokens, valTokens, testTokens, tokenLabels]).Distinct(ReferenceEqualityComparer.Instance).Cast<Tensor>())
                t.DetachFromDisposeScope();
            StepsPerEpoch = 1;
        }
        else
        {
            if (data.Train.Count == 0 || data.Test.Count == 0) throw new ArgumentException($"fine-tuning needs labelled train and test samples (got {data.Train.Count} train, {data.Test.Count} test)");
            TrainCount = data.Train.Count; ValCount = data.Val.Count; TestCount = data.Test.Count;
            StepsPerEpoch = (TrainCount + o.Batch - 1) / o.Batch;
        }
        int classes = setup.Classes > 0 ? setup.Classes
            : 1 + (int)(graph is not null ? tokenLabels!.max().item<long>() : data.Train.Concat(data.Val).Concat(data.Test).Max(x => (long)(x.Label ?? -1)));
        if (classes < 2) throw new ArgumentException($"fine-tuning needs at least two classes, the labels give {classes}");
        manual_seed(Mix(setup.Seed, 0x4ead, 0)); // the head starts the same with or without pretraining
        Model = new Classifier(setup.Parts, classes, o.Pool, o.HeadInitStd);
        Model.to(setup.Device);
        StochasticDepth.Apply(Model, o.DropPath);
        var named = Model.named_parameters().ToList();
        var scales = Classifier.LayerScales(named.Select(p => p.name).ToList(), o.LayerDecay);
        Optimizer = new FlatAdamW(named.Select((p, i) => new OptimizedParameter(p.name, p.parameter, MaskedModel.Decays(p.name, p.parameter)) { LrScale = scales[i] }).ToList(),
            o.Beta1, o.Beta2, o.WeightDecay);
        TotalSteps = (long)o.Epochs * StepsPerEpoch;
        int batch = setup.Parts.ProbeLevel == ProbeLevel.Token ? TrainCount : o.Batch;
        schedule = new LrSchedule(o.Lr ?? o.BaseLr * batch / 256.0, (int)Math.Round(o.WarmupEpochs * StepsPerEpoch), (int)TotalSteps, o.MinLr);
    }

    public Classifier Model { get; }
    public FlatAdamW Optimizer { get; }
    public FineTuneOptions Options => setup.Options;
    public long Step { get; private set; }
    public long TotalSteps { get; }
    public int StepsPerEpoch { get; }
    public int TrainCount { get; }
    public int ValCount { get; }
    public int TestCount { get; }

    /// <summary>The learning rate of each parameter relative to the schedule's (layer-wise decay), by name.</summary>
    public IReadOnlyList<(string Name, double Scale)> LrScales() =>
        Model.named_parameters().Select(p => p.name).Zip(Classifier.LayerScales(Model.named_parameters().Select(p => p.name).ToList(), setup.Options.LayerDecay)).ToList();

    /// <summary>Epochs finished so far, in order.</summary>
    public IReadOnlyList<EpochResult> History => history;

    /// <summary>The first epoch with the highest val accuracy (the last epoch when there is no val set), or null before any.</summary>
    public EpochResult? Best => ValCount == 0 ? history.LastOrDefault() : history.Aggregate((EpochResult?)null, (best, e) => best is null || e.ValAccuracy > best.ValAccuracy ? e : best);

    static long Mix(long seed, long step, long salt) => SeedMix.Of(seed, step, salt) & 0x7fffffffL;

    /// <summary>Trains until <paramref name="untilStep"/> steps (at most <see cref="TotalSteps"/>) or cancellation, evaluating at every epoch end.</summary>
    public void Run(long untilStep, CancellationToken ct, Action<FineTuneStep>? onStep = null, Action<EpochResult>? onEpoch = null, Action<FineTuner>? onCheckpoint = null)
    {
        untilStep = Math.Min(untilStep, TotalSteps);
        while (Step < untilStep && !ct.IsCancellationRequested)
        {
            var report = TrainStep();
            onStep?.Invoke(report);
            bool epochEnd = Step % StepsPerEpoch == 0;
            if (epochEnd)
            {
                var result = Evaluate(report.Epoch);
                history.Add(result);
                onEpoch?.Invoke(result);
            }
            if ((epochEnd || setup.Options.CheckpointEvery > 0 && Step % setup.Options.CheckpointEvery == 0) && Step < untilStep) onCheckpoint?.Invoke(this);
        }
    }

    FineTuneStep TrainStep()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var o = setup.Options;
        int epoch = (int)(Step / StepsPerEpoch);
        if (Step % StepsPerEpoch == 0) { epochLossSum = 0; epochLossCount = 0; }
        double lr = schedule.At(Step);
        using var scope = NewDisposeScope();
        using var precision = Devices.Precision.Use(setup.Precision);
        Model.train();
        manual_seed(Mix(setup.Seed, Step, 0x3c3c3c)); // torch's global generator: dropout, a tokenizer's own augmentation
        dropPaths.manual_seed(Mix(setup.Seed, Step, 0xd9));
        using var drops = StochasticDepth.Use(dropPaths);
        Tensor logits, labels;
        int count;
        if (graph is not null)
        {
            logits = Model.Logits(graph).index_select(0, trainTokens!);
            labels = tokenLabels!.index_select(0, trainTokens!);
            count = TrainCount;
        }
        else
        {
            var indices = BatchIndices(epoch, (int)(Step % StepsPerEpoch));
            IReadOnlyList<Sample> samples = indices.Select(i => data.Train[i]).ToList();
            if (o.Augment && setup.Augment is { } augment) samples = augment.Apply(samples, Step);
            var tokens = setup.Parts.Tokenizer.Tokenize(samples, setup.Device);
            logits = Model.Logits(tokens);
            labels = tensor(indices.Select(i => trainLabels[i]).ToArray(), device: setup.Device);
            count = samples.Count;
        }
        var loss = nn.functional.cross_entropy(logits, labels, label_smoothing: o.LabelSmoothing);
        double value = loss.item<float>();
        if (double.IsFinite(value))
        {
            loss.backward();
            var grad = Optimizer.FlatGradient();
            double scale = 1;
            if (o.ClipGrad > 0)
            {
                double norm = grad.norm().item<float>();
                if (norm > o.ClipGrad) scale = o.ClipGrad / (norm + 1e-6);
            }
            Optimizer.Step(grad, lr, scale, clearGradient: true);
            epochLossSum += value;
            epochLossCount++;
        }
        else Optimizer.ZeroGrad();
        Step++;
        return new FineTuneStep(Step, epoch, value, lr, count / clock.Elapsed.TotalSeconds);
    }

    /// <summary>Train-split positions of batch <paramref name="index"/> of <paramref name="epoch"/>: a seeded permutation per epoch, read in order.</summary>
    int[] BatchIndices(int epoch, int index)
    {
        if (permutationEpoch != epoch)
        {
            permutation = Enumerable.Range(0, TrainCount).ToArray();
            new Random((int)Mix(setup.Seed, epoch, 0xe90c)).Shuffle(permutation);
            permutationEpoch = epoch;
        }
        int from = index * setup.Options.Batch;
        return permutation.AsSpan(from, Math.Min(setup.Options.Batch, TrainCount - from)).ToArray();
    }

    EpochResult Evaluate(int epoch)
    {
        double trainLoss = epochLossCount > 0 ? epochLossSum / epochLossCount : double.NaN;
        if (graph is not null)
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            using var __ = Devices.Precision.Use(setup.Precision);
            Model.eval();
            var predicted = Model.Logits(graph).argmax(1);
            double Acc(Tensor idx) => idx.numel() == 0 ? double.NaN : predicted.index_select(0, idx).eq(tokenLabels!.index_select(0, idx)).to_type(ScalarType.Float64).mean().item<double>();
            return new EpochResult(epoch, Step, trainLoss, Acc(valTokens!), Acc(testTokens!));
        }
        return new EpochResult(epoch, Step, trainLoss, data.Val.Count == 0 ? double.NaN : Accuracy(data.Val), Accuracy(data.Test));
    }

    /// <summary>Accuracy on labelled samples (eval mode, all tokens visible, no augmentation).</summary>
    public double Accuracy(IReadOnlyList<Sample> samples)
    {
        using var _ = no_grad();
        using var __ = Devices.Precision.Use(setup.Precision);
        Model.eval();
        long correct = 0;
        for (int i = 0; i < samples.Count; i += setup.Options.EvalBatch)
        {
            using var scope = NewDisposeScope();
            var slice = samples.Skip(i).Take(setup.Options.EvalBatch).ToList();
            var predicted = Model.Logits(setup.Parts.Tokenizer.Tokenize(slice, setup.Device)).argmax(1);
            correct += predicted.eq(tensor(slice.Select(s => (long)(s.Label ?? -1)).ToArray(), device: setup.Device)).sum().item<long>();
        }
        return samples.Count == 0 ? double.NaN : correct / (double)samples.Count;
    }

    /// <summary>Named tensors of the whole state: model, optimizer moments, and the epoch history [E, 5] (epoch, step, loss, val, test).</summary>
    IEnumerable<(string, Tensor)> StateTensors()
    {
        foreach (var (name, t) in Model.state_dict()) yield return ("model." + name, t);
        yield return ("optimizer.exp_avg", Optimizer.ExpAvg);
        yield return ("optimizer.exp_avg_sq", Optimizer.ExpAvgSq);
    }

    Tensor HistoryTensor() => history.Count == 0 ? zeros(0, 5, dtype: ScalarType.Float64)
        : tensor(history.SelectMany(e => new[] { e.Epoch, e.Step, e.TrainLoss, e.ValAccuracy, e.TestAccuracy }).ToArray(), [history.Count, 5]);

    string Tag => "finetune:" + setup.Recipe;

    /// <summary>Writes model, optimizer, step, the running epoch loss and the epoch history (atomically).</summary>
    public void Save(string path)
    {
        using var scope = NewDisposeScope();
        var state = new CheckpointState { Step = Step, Seed = setup.Seed, OptimizerSteps = Optimizer.StepCount, Recipe = Tag, Precision = Devices.Precision.Name(setup.Precision) };
        Checkpoint.Save(path, state, StateTensors().Append(("history", HistoryTensor())).Append(("epoch_loss", tensor(new[] { epochLossSum, epochLossCount }))));
    }

    /// <summary>Restores what <see cref="Save"/> wrote; refuses a checkpoint of another recipe or shape.</summary>
    public void Load(string path)
    {
        var (state, tensors) = Checkpoint.Load(path);
        try
        {
            if (state.Recipe != Tag) throw new CheckpointException(path, $"written by {state.Recipe}, not {Tag}");
            if (state.Seed != setup.Seed) throw new CheckpointException(path, $"written with seed {state.Seed}, not {setup.Seed}");
            Checkpoint.Restore(path, tensors, StateTensors());
            if (!tensors.TryGetValue("history", out var h) || h.dim() != 2 || h.shape[1] != 5 || !tensors.TryGetValue("epoch_loss", out var el) || el.numel() != 2)
                throw new CheckpointException(path, "no fine-tuning history");
            var values = h.to_type(ScalarType.Float64).data<double>().ToArray();
            history.Clear();
            for (int i = 0; i < h.shape[0]; i++)
                history.Add(new EpochResult((int)values[5 * i], (long)values[5 * i + 1], values[5 * i + 2], values[5 * i + 3], values[5 * i + 4]));
            var loss = el.to_type(ScalarType.Float64).data<double>().ToArray();
            epochLossSum = loss[0];
            epochLossCount = (int)loss[1];
            Step = state.Step;
            Optimizer.StepCount = state.OptimizerSteps;
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    public void Dispose()
    {
        Optimizer.Dispose();
        dropPaths.Dispose();
        if (graph is not null) foreach (var t in PreparedBatch.TensorsOf(graph).Distinct(ReferenceEqualityComparer.Instance).Cast<Tensor>()) t.Dispose();
        trainTokens?.Dispose(); valTokens?.Dispose(); testTokens?.Dispose(); tokenLabels?.Dispose();
    }
}
