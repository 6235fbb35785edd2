using Maskwork.Abstractions;
using Maskwork.Backend.Nn;
using Maskwork.Backend.Training;
using Maskwork.Host.Cli;
using Maskwork.Host.Data;
using Maskwork.Host.Runs;
using Parquet.Serialization;
using static TorchSharp.torch;

namespace Maskwork.Host.Commands;

/// <summary>What <c>probe</c> is asked for. <paramref name="Sets"/>: <c>data.k=v</c> reader options over the run's own, <c>probe.batchnorm=true|false</c>, <c>probe.pool=mean|mean+max</c> and <c>probe.layer=K</c>.</summary>
public sealed record ProbeArgs(string Run, string? Data = null, string Method = "linear", bool RandomInit = false, IReadOnlyList<string>? Sets = null);

/// <summary>What <c>embed</c> is asked for.</summary>
public sealed record EmbedArgs(string Run, string Data, string Out, IReadOnlyList<string>? Sets = null);

/// <summary>What <c>reconstruct</c> is asked for.</summary>
public sealed record ReconstructArgs(string Run, string Out, string? Data = null, int Count = 8, IReadOnlyList<string>? Sets = null);

/// <summary><c>probe</c>, <c>embed</c> and <c>reconstruct</c>: use a run's encoder.</summary>
public sealed class EvaluateCommands(Workspace workspace)
{
    public async Task<int> ProbeAsync(ProbeArgs args, Output output, CancellationToken ct)
    {
        var run = RunFolder.Open(args.Run);
        string method = args.Method;
        if (method is not ("linear" or "knn")) throw new UsageException($"--method must be linear or knn, got '{method}'");
        bool randomInit = args.RandomInit;
        // probe.batchnorm: MAE's BatchNorm without affine parameters before the linear head (main_linprobe.py); on by default.
        // probe.pool: the mean of the tokens (MAE), or mean and max side by side (the point-cloud MAEs' linear SVM).
        // probe.layer: the tokens after the encoder's first K blocks instead of its output (0 = the embedding).
        bool batchNorm = true;
        var pooling = FeaturePooling.Mean;
        int? layer = null;
        var sets = new List<string>();
        foreach (var s in args.Sets ?? [])
        {
            if (!s.StartsWith("probe.", StringComparison.Ordinal)) { sets.Add(s); continue; }
            if (s.StartsWith("probe.batchnorm=", StringComparison.Ordinal) && bool.TryParse(s[16..], out batchNorm)) continue;
            if (s.StartsWith("probe.layer=", StringComparison.Ordinal) && int.TryParse(s[12..], out int k) && k >= 0) { layer = k; continue; }
            pooling = s switch
            {
                "probe.pool=mean" => FeaturePooling.Mean,
                "probe.pool=mean+max" => FeaturePooling.MeanMax,
                _ => throw new UsageException($"--set {s}: the probe's own options are probe.batchnorm=true|false, probe.pool=mean|mean+max and probe.layer=K (K ≥ 0 blocks)"),
            };
        }
        string pool = pooling == FeaturePooling.MeanMax ? "mean+max" : "mean";
        var dataOptions = Workspace.DataOptions(sets);
        var (job, _, model, device, precision) = workspace.OpenModel(run, randomInit);
        var spec = (args.Data is { } d ? DataSpec.Parse(d) : job.DataSpec()) with { Options = Workspace.Merge(job.DataOptions, dataOptions) };
        var data = await DataLoading.OpenAsync(spec, workspace.Catalog.Registry, workspace.Options.FailOnBadInput, ct);
        if (model.Parts.ProbeLevel == ProbeLevel.Token) return ProbeTokens(run, job, model, data.Samples, spec, method, randomInit, device, precision, output);
        var (train, test) = Split(data.Samples.Where(s => s.Label is not null).ToList()); // typed samples stay compact (uint8)
        if (train.Count == 0 || test.Count == 0)
            throw new CommandException($"{spec} has no labelled {(train.Count == 0 ? "train" : "test")} samples; a probe needs labels (sub-folder names for image-folder)");

        var readout = new FeatureReadout(pooling, layer);
        if (layer is int l)
        {
            if (model.Parts.Encoder is not ILayeredEncoder layered)
                throw new UsageException($"--set probe.layer={l}: this run's encoder ({model.Parts.Encoder.GetType().Name}) does not read out its inner layers; leave probe.layer out");
            if (l > layered.Depth) throw new UsageException($"--set probe.layer={l}: the encoder has {layered.Depth} blocks; K must be 0…{layered.Depth}");
        }
        var (trainX, testX) = Progress.Run($"features for the {method} probe", train.Count + test.Count, "samples", p =>
            (Probe.Features(model.Parts, train, device, precision, readout, progress: p.Counter()),
             Probe.Features(model.Parts, test, device, precision, readout, progress: p.Counter(train.Count))));
        long[] trainY = train.Select(s => (long)s.Label!.Value).ToArray(), testY = test.Select(s => (long)s.Label!.Value).ToArray();
        double accuracy = method == "linear" ? Probe.Linear(trainX, trainY, testX, testY, job.Seed, new LinearProbeOptions { BatchNorm = batchNorm }) : Probe.Knn(trainX, trainY, testX, testY);
        run.AppendLog($"probe {method}{(randomInit ? " (random init)" : "")}{(method == "linear" ? $" batchnorm={batchNorm}" : "")} pool={pool}{(layer is int at ? $" layer={at}" : "")} on {spec}: accuracy {accuracy:F4} ({train.Count} train, {test.Count} test)");
        var result = new { run = run.Path, method, accuracy = Math.Round(accuracy, 4), train_count = train.Count, test_count = test.Count, random_init = randomInit, batchnorm = method == "linear" && batchNorm, pool, layer };
        run.AppendEvaluation(Evaluation("probe", result, spec));
        output.Result(result,
            () => $"{method} probe{(randomInit ? " (random init)" : "")}: accuracy {accuracy:P2} on {test.Count} test samples ({train.Count} train)");
        return 0;
    }

    /// <summary>Node-level probe (graphs): per-token features and labels, train split → select on val → test accuracy.</summary>
    static int ProbeTokens(RunFolder run, JobConfig job, MaskedModel model, IReadOnlyList<Sample> samples, DataSpec spec, string method, bool randomInit,
        Device device, ScalarType precision, Output output)
    {
        if (samples.Count == 0) throw new CommandException($"{spec} produced no usable samples");
        using var nodes = NodeProbe.Features(model.Parts, samples, device, precision);
        NodeProbeResult r;
        try { r = method == "linear" ? NodeProbe.Linear(nodes, job.Seed, NodeProbeOptions.From(job.Model)) : NodeProbe.Knn(nodes, job.Seed); }
        catch (ArgumentException e) { throw new CommandException($"{spec}: {e.Message}"); }
        run.AppendLog($"probe {method}{(randomInit ? " (random init)" : "")} on {spec} (nodes): test accuracy {r.TestAccuracy:F4}, val {r.ValAccuracy:F4} ({r.TrainCount} train, {r.ValCount} val, {r.TestCount} test)");
        var result = new
        {
            run = run.Path, method, accuracy = Math.Round(r.TestAccuracy, 4), train_count = r.TrainCount, test_count = r.TestCount, random_init = randomInit,
            level = "token", val_count = r.ValCount, val_accuracy = double.IsNaN(r.ValAccuracy) ? (double?)null : Math.Round(r.ValAccuracy, 4),
        };
        run.AppendEvaluation(Evaluation("probe", result, spec));
        output.Result(result, () => $"{method} node probe{(randomInit ? " (random init)" : "")}: test accuracy {r.TestAccuracy:P2} on {r.TestCount} nodes ({r.TrainCount} train, {r.ValCount} val)");
        return 0;
    }

    /// <summary>An evaluations.jsonl line: the verb's --json result plus which verb, on what data, when.</summary>
    public static System.Text.Json.Nodes.JsonObject Evaluation(string verb, object result, DataSpec spec)
    {
        var line = System.Text.Json.JsonSerializer.SerializeToNode(result)!.AsObject();
        line["verb"] = verb;
        line["data"] = spec.ToString();
        line["time"] = DateTime.UtcNow.ToString("O", System.Globalization.CultureInfo.InvariantCulture);
        return line;
    }

    /// <summary>The source's own train/test split when it has one, else a deterministic 80/20 split by source name.</summary>
    static (List<Sample> Train, List<Sample> Test) Split(List<Sample> samples)
    {
        var own = (Train: samples.Where(s => s.Split is null or "train").ToList(), Test: samples.Where(s => s.Split == "test").ToList());
        if (own.Train.Count > 0 && own.Test.Count > 0) return own;
        bool IsTest(Sample s) => (uint)StableHash(s.Source) % 5 == 0;
        return (samples.Where(s => !IsTest(s)).ToList(), samples.Where(IsTest).ToList());
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

    public sealed class EmbeddingRow
    {
        public string Source { get; set; } = "";
        public int? Label { get; set; }
        public string? Split { get; set; }
        public float[] Embedding { get; set; } = [];
    }

    public async Task<int> EmbedAsync(EmbedArgs args, Output output, CancellationToken ct)
    {
        var run = RunFolder.Open(args.Run);
        var dataOptions = Workspace.DataOptions(args.Sets);
        var (job, _, model, device, precision) = workspace.OpenModel(run, randomInit: false);
        var spec = DataSpec.Parse(args.Data) with { Options = Workspace.Merge(job.DataOptions, dataOptions) };
        var data = await DataLoading.OpenAsync(spec, workspace.Catalog.Registry, workspace.Options.FailOnBadInput, ct);
        var samples = data.Samples;
        using var features = Progress.Run("embed", samples.Count, "samples", p => Probe.Features(model.Parts, samples, device, precision, progress: p.Counter()));
        long dim = features.shape[1];
        var flat = features.contiguous().data<float>().ToArray();
        var rows = samples.Select((s, i) => new EmbeddingRow { Source = s.Source, Label = s.Label, Split = s.Split, Embedding = flat.AsSpan(i * (int)dim, (int)dim).ToArray() }).ToList();
        string outPath = args.Out;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
        await using (var fs = File.Create(outPath + ".tmp")) await ParquetSerializer.SerializeAsync(rows, fs, cancellationToken: ct);
        File.Move(outPath + ".tmp", outPath, true);
        output.Result(new { run = run.Path, out_path = Path.GetFullPath(outPath), samples = rows.Count, dim, skipped = data.Issues.Count },
            () => $"wrote {rows.Count} embeddings of width {dim} to {outPath}");
        return 0;
    }

    public async Task<int> ReconstructAsync(ReconstructArgs args, Output output, CancellationToken ct)
    {
        var run = RunFolder.Open(args.Run);
        int count = args.Count;
        if (count <= 0) throw new UsageException("--count must be positive");
        var dataOptions = Workspace.DataOptions(args.Sets);
        var (job, _, model, device, precision) = workspace.OpenModel(run, randomInit: false);
        var spec = (args.Data is { } d ? DataSpec.Parse(d) : job.DataSpec("test")) with { Options = Workspace.Merge(job.DataOptions, dataOptions) };
        var opened = await DataLoading.OpenAsync(spec, workspace.Catalog.Registry, workspace.Options.FailOnBadInput, ct, limit: count);
        var samples = opened.Source.Read(Enumerable.Range(0, (int)Math.Min(count, opened.Source.Count)).Select(i => (long)i).ToArray(), 0);
        if (samples.Count == 0) throw new CommandException($"{spec} produced no samples");
        if (model.Parts.Renderer is null) throw new CommandException($"recipe {job.Recipe} has no reconstruction renderer");
        string outPath = args.Out;
        TrainCommand.RenderReconstructions(model, 0, samples, job.Seed, device, precision, outPath, count);
        output.Result(new { run = run.Path, out_path = Path.GetFullPath(outPath), count = samples.Count }, () => $"wrote {outPath}");
        return 0;
    }
}
