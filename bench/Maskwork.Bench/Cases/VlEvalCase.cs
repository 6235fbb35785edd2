using System.Diagnostics;
using System.Globalization;
using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Training;
using Maskwork.Backend.Visuals;
using Maskwork.Plugins.Image.Recipes;
using Maskwork.Plugins.Image.Tokenizers;
using Maskwork.Plugins.VisionLanguage.Readers;
using Maskwork.Plugins.VisionLanguage.Recipes;
using Maskwork.Plugins.VisionLanguage.Text;
using static TorchSharp.torch;

namespace Maskwork.Bench.Cases;

/// <summary>
/// <c>vl-eval</c>: <c>vl/m3ae</c> on the Tux Paint stamps (Debian tuxpaint-stamps-default, 32×32, split by concept),
/// per seed: (1) retrieval on the held-out pairs — for each test image, every test caption is scored by the model's
/// caption-reconstruction loss given the image (all patches visible; each real token hidden once, in two interleaved
/// masks) minus the same loss with the image fully masked (the caption's own difficulty), recall@1/5/10 of the image's
/// caption; the control ranks by the loss with the image fully masked (the same ranking for every image), and chance is
/// K/N; (2) an image-only linear probe on the category (frozen mean-pooled encoder features of the image alone) for
/// <c>vl/m3ae</c> against <c>image/mae</c> trained on exactly the same images (<c>data.part=image</c>) with the same
/// steps, batch, patch size and mask ratio, and the random-init encoder. MultiMAE (silhouette IoU) is not built yet:
/// those keys are null. Numbers are means over the seeds (per-seed values in <c>per_seed</c>).
/// </summary>
public sealed class VlEvalCase : IBenchCase
{
    public string Name => "vl-eval";
    public string Summary => "vl/m3ae on Tux Paint stamps: caption retrieval by reconstruction loss vs masked image / chance; image probe vs image/mae; 2 seeds";

    public async Task<int> RunAsync(BenchArgs args)
    {
        string root = args.String("stamps", CaptionIndex.TuxPaintRoot);
        if (!Directory.Exists(root)) { Console.Error.WriteLine($"{root} is missing: apt-get install tuxpaint-stamps-default, or pass --stamps <folder>"); return 1; }
        int steps = args.Int("steps", 1500), batch = args.Int("batch", 64);
        var seeds = args.String("seeds", "0,1").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        if (args.Value("threads") is not null) set_num_threads(args.Int("threads", 2));
        var recipe = new M3aeRecipe();
        var options = (M3aeOptions)recipe.DefaultOptions with { TextWeight = args.Double("text-weight", 0.1) };
        var spec = new DataSpec("tuxpaint-stamps", root) { Options = recipe.DataOptions(options) };
        var clock = Stopwatch.StartNew();
        var issues = new DataIssueLog();
        var all = new List<Sample>();
        await foreach (var s in new CaptionedImageReader("tuxpaint-stamps", "").ReadAsync(spec, issues, CancellationToken.None)) all.Add(s);
        var trainSet = all.Where(s => s.Split == "train").ToList();
        var testSet = all.Where(s => s.Split == "test").Take(args.Int("test", 1000)).ToList();
        Console.Error.WriteLine($"vl-eval: {trainSet.Count} train / {testSet.Count} test pairs, {issues.Count} skipped ({clock.Elapsed.TotalSeconds:F0}s)");
        long[] trainY = trainSet.Select(s => (long)s.Label!.Value).ToArray(), testY = testSet.Select(s => (long)s.Label!.Value).ToArray();
        var trainOptions = recipe.Training with { Steps = steps, Batch = batch, CheckpointEvery = steps + 1 };

        var perSeed = new List<Dictionary<string, double>>();
        foreach (int seed in seeds)
        {
            var row = new Dictionary<string, double>();
            var context = new BuildContext(CPU, spec with { Split = "train" }) { Tokenizers = new Catalog() };
            var seedClock = Stopwatch.StartNew();
            manual_seed(seed);
            var random = recipe.Build(options, context);
            manual_seed(seed);
            var parts = recipe.Build(options, context);
            var (first, last) = Train(recipe.Name, parts, trainOptions, seed, trainSet, seedClock);
            row["m3ae_train_s"] = seedClock.Elapsed.TotalSeconds; row["m3ae_first_loss"] = first; row["m3ae_last_loss"] = last;
            ((TorchSharp.torch.nn.Module)random.Encoder).eval();

            var r = Retrieval(parts, testSet);
            foreach (var (k, v) in r) row[k] = v;
            Console.Error.WriteLine($"  seed {seed} retrieval: R@1 {r["recall_at_1"]:P1} R@5 {r["recall_at_5"]:P1} R@10 {r["recall_at_10"]:P1}, masked image R@5 {r["masked_image_recall_at_5"]:P1}, chance {r["chance_recall_at_5"]:P1} ({clock.Elapsed.TotalSeconds:F0}s)");
            if (seed == seeds[0]) Picture(parts, testSet, args.String("picture", "vl-eval-reconstructions.png"));

            row["m3ae_probe_accuracy"] = ProbeAccuracy(parts, trainSet, trainY, testSet, testY, seed);
            row["random_probe_accuracy"] = ProbeAccuracy(random, trainSet, trainY, testSet, testY, seed);

            // image/mae on the same images (the image part as an ordinary sample), same steps, batch, patch and mask ratio.
            var maeRecipe = new ImageMaeRecipe("image/mae", "", block: false);
            var maeOptions = (ImageMaeOptions)maeRecipe.DefaultOptions with
            {
                Size = options.Size, Channels = 3, Patch = options.Patch, Mean = options.Mean, Std = options.Std, MaskRatio = options.ImageMaskRatio,
                EncoderDim = options.EncoderDim, EncoderDepth = options.EncoderDepth, EncoderHeads = options.EncoderHeads,
                DecoderDim = options.DecoderDim, DecoderDepth = options.DecoderDepth, DecoderHeads = options.DecoderHeads,
            };
            var images = (List<Sample> set) => set.Select(s => ((MultiPartSample)s).Part("image")).ToList();
            var maeClock = Stopwatch.StartNew();
            manual_seed(seed);
            var mae = maeRecipe.Build(maeOptions, new BuildContext(CPU, spec with { Split = "train" }));
            var (maeFirst, maeLast) = Train(maeRecipe.Name, mae, maeRecipe.Training with { Steps = steps, Batch = batch, CheckpointEvery = steps + 1, BaseLr = recipe.Training.BaseLr }, seed, images(trainSet), maeClock);
            row["mae_train_s"] = maeClock.Elapsed.TotalSeconds; row["mae_first_loss"] = maeFirst; row["mae_last_loss"] = maeLast;
            row["mae_probe_accuracy"] = ProbeAccuracy(mae, images(trainSet), trainY, images(testSet), testY, seed);
            Console.Error.WriteLine($"  seed {seed} probe: m3ae {row["m3ae_probe_accuracy"]:P1}, image/mae {row["mae_probe_accuracy"]:P1}, random init {row["random_probe_accuracy"]:P1} ({clock.Elapsed.TotalSeconds:F0}s)");
            perSeed.Add(row);
        }

        double Mean(string key) => perSeed.Average(r => r[key]);
        BenchArgs.Emit(new
        {
            @case = Name, seeds, steps, batch, train_pairs = trainSet.Count, test_pairs = testSet.Count, skipped = issues.Count,
            text_weight = options.TextWeight,
            recall_at_1 = Mean("recall_at_1"), recall_at_5 = Mean("recall_at_5"), recall_at_10 = Mean("recall_at_10"),
            masked_image_recall_at_5 = Mean("masked_image_recall_at_5"), chance_recall_at_5 = Mean("chance_recall_at_5"),
            m3ae_probe_accuracy = Mean("m3ae_probe_accuracy"), mae_probe_accuracy = Mean("mae_probe_accuracy"), random_probe_accuracy = Mean("random_probe_accuracy"),
            silhouette_iou = (double?)null, baseline_silhouette_iou = (double?)null, multimae = "not built (vl/multimae is missing)",
            m3ae_train_s = Mean("m3ae_train_s"), mae_train_s = Mean("mae_train_s"), wall_s = clock.Elapsed.TotalSeconds,
            per_seed = perSeed,
        });
        return 0;
    }

    sealed class Catalog : ITokenizerCatalog
    {
        readonly ITokenizerFactory[] factories = [new PatchTokenizerFactory(), new TextTokenizerFactory()];
        public ITokenizerFactory? Tokenizer(string name) => factories.FirstOrDefault(f => f.Name == name);
        public IReadOnlyList<string> TokenizerNames => factories.Select(f => f.Name).ToList();
    }

    static (double First, double Last) Train(string name, ModelParts parts, TrainOptions train, int seed, List<Sample> set, Stopwatch clock)
    {
        using var trainer = new Trainer(new TrainerSetup(name, parts, train, seed, CPU, ScalarType.Float32), new SampleSet(set));
        double first = double.NaN;
        var tail = new Queue<double>();
        trainer.Run(train.Steps, CancellationToken.None, r =>
        {
            if (r.Step == 1) first = r.Loss;
            tail.Enqueue(r.Loss); if (tail.Count > 20) tail.Dequeue();
            if (r.Step % 100 == 0 || r.Step <= 3)
                Console.Error.WriteLine($"  {name} seed {seed} step {r.Step} loss {r.Loss:F4} step {r.Seconds:F3}s (data {r.Timings?.Data:F3} fwd {r.Timings?.Forward:F3} bwd {r.Timings?.Backward:F3} opt {r.Timings?.Optimizer:F3}) ({clock.Elapsed.TotalSeconds:F0}s)");
        });
        trainer.Model.eval();
        return (first, tail.Average());
    }

    static double ProbeAccuracy(ModelParts parts, List<Sample> train, long[] trainY, List<Sample> test, long[] testY, int seed) =>
        Probe.Linear(Probe.Features(parts, train, CPU, ScalarType.Float32), trainY, Probe.Features(parts, test, CPU, ScalarType.Float32), testY, seed,
            new LinearProbeOptions(Epochs: 100, Batch: 64, Lr: 1e-2));

    /// <summary>Interleaved caption masks each pair is scored under (token j hidden in mask j mod Masks).</summary>
    const int Masks = 2;

    /// <summary>Per-sample caption loss [B] of <paramref name="batch"/> (image i with caption j), every real token hidden once over <see cref="Masks"/> interleaved masks.</summary>

    static float[] CaptionLoss(ModelParts parts, List<Sample> batch, bool imageMasked)
    {
        using var scope = NewDisposeScope();
        var tokens = parts.Tokenizer.Tokenize(batch, CPU);
        var text = tokens.Parts!["text"];
        long b = tokens.BatchSize, ni = tokens.TokenCount, nt = text.TokenCount;
        var imagePlan = imageMasked ? MaskPlan.FromDense(ones(b, ni, dtype: ScalarType.Bool)) : MaskPlan.None(b, ni, CPU);
        var objective = (M3aeObjective)parts.Objective;
        var total = new float[b];
        var real = text.Padding!.logical_not();
        var counts = real.sum(1).data<long>().ToArray();
        for (int k = 0; k < Masks; k++)
        {
            var hide = (arange(nt, dtype: ScalarType.Int64).remainder(Masks).eq(k)).unsqueeze(0).logical_and(real);
            var hidden = hide.sum(1).data<long>().ToArray();
            var plan = imagePlan with { Parts = new Dictionary<string, MaskPlan> { ["image"] = imagePlan, ["text"] = MaskPlan.FromDense(hide) } };
            using (no_grad()) objective.Compute(tokens, plan, parts.Encoder.Encode(tokens, plan));
            var loss = objective.LastTextLoss!.data<float>().ToArray();
            for (int i = 0; i < b; i++) total[i] += loss[i] * hidden[i] / Math.Max(1, counts[i]); // token-weighted mean over the masks
        }
        return total;
    }

    static MultiPartSample Pair(Sample image, Sample caption)
    {
        var i = (MultiPartSample)image;
        var parts = new Dictionary<string, Sample>(i.Parts) { ["text"] = ((MultiPartSample)caption).Parts["text"] };
        return new MultiPartSample(parts, "image", i.Label, i.Source);
    }

    static Dictionary<string, double> Retrieval(ModelParts parts, List<Sample> test)
    {
        int n = test.Count;
        var captions = test.Select(s => ((TextSample)((MultiPartSample)s).Parts["text"]).Text).ToArray();
        var prior = Batched(test, s => s, parts, imageMasked: true); // loss(caption j | no image)
        var score = new float[n, n];
        for (int i = 0; i < n; i++)
        {
            var row = Batched(test, c => Pair(test[i], c), parts, imageMasked: false);
            for (int j = 0; j < n; j++) score[i, j] = row[j] - prior[j];
        }
        double Recall(int k, Func<int, int, float> s)
        {
            int hits = 0;
            for (int i = 0; i < n; i++)
            {
                var ranked = Enumerable.Range(0, n).OrderBy(j => s(i, j)).ThenBy(j => j).Take(k);
                if (ranked.Any(j => captions[j] == captions[i])) hits++; // a duplicate caption counts as the image's own
            }
            return hits / (double)n;
        }
        double chance = Enumerable.Range(0, n).Average(i => Math.Min(1.0, 5.0 * captions.Count(c => c == captions[i]) / n));
        return new()
        {
            ["recall_at_1"] = Recall(1, (i, j) => score[i, j]), ["recall_at_5"] = Recall(5, (i, j) => score[i, j]), ["recall_at_10"] = Recall(10, (i, j) => score[i, j]),
            ["masked_image_recall_at_5"] = Recall(5, (i, j) => prior[j]), ["chance_recall_at_5"] = chance,
        };
    }

    static float[] Batched(List<Sample> test, Func<Sample, Sample> make, ModelParts parts, bool imageMasked)
    {
        var result = new List<float>();
        foreach (var chunk in test.Chunk(256)) result.AddRange(CaptionLoss(parts, chunk.Select(make).ToList(), imageMasked));
        return result.ToArray();
    }

    static void Picture(ModelParts parts, List<Sample> test, string path)
    {
        using var scope = NewDisposeScope();
        var samples = test.Take(8).ToList();
        var tokens = parts.Tokenizer.Tokenize(samples, CPU) with { SampleKeys = MaskRandomKeys(samples) };
        var plan = parts.Masker.Plan(tokens, new MaskContext(0, new Generator(0)) { Seed = 0 });
        ObjectiveResult result;
        using (no_grad()) result = parts.Objective.Compute(tokens, plan, parts.Encoder.Encode(tokens, plan));
        var (h, w, rgb) = parts.Renderer!.Render(tokens, plan, result.Reconstruction!, parts.Tokenizer);
        new RgbImage(w, h, rgb).SavePng(path);
        Console.Error.WriteLine($"  wrote {Path.GetFullPath(path)}");
    }

    static Tensor MaskRandomKeys(List<Sample> samples) => tensor(Enumerable.Range(0, samples.Count).Select(i => (long)i).ToArray());
}
