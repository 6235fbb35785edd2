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
/// caption (captions with the same token ids count as one; by text in the <c>_by_text</c> keys); the control ranks by the loss with the image fully masked (the same ranking for every image), and chance is
/// the probability that K captions drawn at random include the image's; (2) an image-only linear probe on the category (frozen mean-pooled encoder features of the image alone) for
/// <c>vl/m3ae</c> against <c>image/mae</c> trained on exactly the same images (<c>data.part=image</c>) with the same
/// steps, batch, patch size and mask ratio, and the random-init encoder. (3) <c>vl/multimae</c> (RGB + alpha + caption, Dirichlet budget) with the same steps and batch:
/// silhouette IoU from RGB alone (alpha and caption fully masked) against a colour-threshold baseline (border-median
/// background, threshold fitted on the training images; the model's alpha cut-off is fitted on the training images the
/// same way, its IoU at 0.5 kept as <c>silhouette_iou_at_half</c>), and caption-token accuracy with RGB and alpha fully shown
/// against fully hidden. <c>--run</c> picks the pieces (m3ae,mae,multimae); keys of pieces not run are null. Numbers are means over the seeds (per-seed values in <c>per_seed</c>).
/// </summary>
public sealed class VlEvalCase : IBenchCase
{
    public string Name => "vl-eval";
    public string Summary => "vl/m3ae and vl/multimae on Tux Paint stamps: caption retrieval vs masked image / chance; image probe vs image/mae; silhouette IoU vs colour threshold; 2 seeds";

    public async Task<int> RunAsync(BenchArgs args)
    {
        // --reader emoji evaluates on the npm emoji package (build/fetch-emoji.sh) instead; --stamps / --path name the folder.
        string reader = args.String("reader", "tuxpaint-stamps");
        if (reader is not ("tuxpaint-stamps" or "emoji")) { Console.Error.WriteLine($"--reader takes tuxpaint-stamps or emoji, got '{reader}'"); return 1; }
        string root = args.String("path", args.String("stamps", reader == "emoji" ? EmojiPackage.DefaultRoot : CaptionIndex.TuxPaintRoot));
        if (!Directory.Exists(root))
        {
            Console.Error.WriteLine(reader == "emoji" ? $"{root} is missing: run {EmojiPackage.FetchCommand}, or pass --path <unpacked {EmojiPackage.Name} folder>"
                : $"{root} is missing: apt-get install tuxpaint-stamps-default, or pass --stamps <folder>");
            return 1;
        }
        int steps = args.Int("steps", 1500), batch = args.Int("batch", 64);
        var seeds = args.String("seeds", "0,1").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        if (args.Value("threads") is not null) set_num_threads(args.Int("threads", 2));
        if (args.Value("conv-gemm") is { } convGemm and not "auto") Maskwork.Backend.Nn.Dense.ConvolutionGemm = convGemm != "false";
        var run = args.String("run", "m3ae,mae,multimae").Split(',').ToHashSet(StringComparer.Ordinal);
        if (run.Except(["m3ae", "mae", "multimae"]).FirstOrDefault() is { } unknown) { Console.Error.WriteLine($"--run takes m3ae, mae, multimae (comma-separated), got '{unknown}'"); return 1; }
        var recipe = new M3aeRecipe();
        var options = (M3aeOptions)recipe.DefaultOptions with
        {
            TextWeight = args.Double("text-weight", 0.1), TextMaskRatio = args.Double("text-mask", 0.75), ImageMaskRatio = args.Double("image-mask", 0.75),
        };
        var multiRecipe = new MultiMaeRecipe();
        var multiDefaults = (MultiMaeOptions)multiRecipe.DefaultOptions;
        var multiOptions = multiDefaults with { Budget = args.Int("budget", multiDefaults.Budget), SampleSubsets = args.String("subsets", multiDefaults.SampleSubsets ? "true" : "false") == "true",
            AlphaWeight = args.Double("alpha-weight", multiDefaults.AlphaWeight), AdapterDim = args.Int("adapter-dim", multiDefaults.AdapterDim),
            Recolour = args.String("recolour", multiDefaults.Recolour ? "true" : "false") == "true",
            Flip = args.String("flip", multiDefaults.Flip ? "true" : "false") == "true",
        };
        // --score-masks: how many interleaved caption masks each pair is scored under (1 hides the whole caption at once);
        // a list (2,1) scores the same model under each, the first giving the recall keys, the others recall_at_K_masks_N in per_seed.
        var scoreMaskList = args.String("score-masks", Masks.ToString(CultureInfo.InvariantCulture)).Split(',').Select(m => int.Parse(m, CultureInfo.InvariantCulture)).ToArray();
        if (scoreMaskList.Any(m => m < 1)) { Console.Error.WriteLine($"--score-masks takes counts of at least 1, got {args.String("score-masks", "")}"); return 1; }
        int scoreMasks = scoreMaskList[0];
        var spec = new DataSpec(reader, root) { Options = recipe.DataOptions(options) };
        var clock = Stopwatch.StartNew();
        var issues = new DataIssueLog();
        var all = new List<Sample>();
        await foreach (var s in new CaptionedImageReader(reader, "").ReadAsync(spec, issues, CancellationToken.None)) all.Add(s);
        var trainSet = all.Where(s => s.Split == "train").ToList();
        var testSet = all.Where(s => s.Split == "test").Take(args.Int("test", 1000)).ToList();
        Console.Error.WriteLine($"vl-eval: {trainSet.Count} train / {testSet.Count} test pairs, {issues.Count} skipped ({clock.Elapsed.TotalSeconds:F0}s)");
        long[] trainY = trainSet.Select(s => (long)s.Label!.Value).ToArray(), testY = testSet.Select(s => (long)s.Label!.Value).ToArray();
        var trainOptions = recipe.Training with { Steps = steps, Batch = batch, CheckpointEvery = steps + 1 };

        var perSeed = new List<Dictionary<string, double>>();
        foreach (int seed in seeds)
        {
            var row = new Dictionary<string, double>();
            var context = new BuildContext(CPU, spec with { Split = "train" }) { Tokenizers = new Catalog(), Seed = seed }; // the seed keys MultiMAE's recolouring
            if (run.Contains("m3ae"))
            {
                var seedClock = Stopwatch.StartNew();
                manual_seed(seed);
                var random = recipe.Build(options, context);
                manual_seed(seed);
                var parts = recipe.Build(options, context);
                var (first, last) = Train(recipe.Name, parts, trainOptions, seed, trainSet, seedClock);
                row["m3ae_train_s"] = seedClock.Elapsed.TotalSeconds; row["m3ae_first_loss"] = first; row["m3ae_last_loss"] = last;
                ((TorchSharp.torch.nn.Module)random.Encoder).eval();

                foreach (int masks in scoreMaskList)
                {
                    var r = Retrieval(parts, testSet, masks);
                    foreach (var (k, v) in r) row[masks == scoreMasks ? k : $"{k}_masks_{masks}"] = v;
                    Console.Error.WriteLine($"  seed {seed} retrieval ({masks} caption mask(s), {r["distinct_captions"]} distinct token captions): R@1 {r["recall_at_1"]:P1} R@5 {r["recall_at_5"]:P1} R@10 {r["recall_at_10"]:P1}, masked image R@5 {r["masked_image_recall_at_5"]:P1}, chance {r["chance_recall_at_5"]:P1}; by text ({r["distinct_captions_by_text"]} distinct): R@5 {r["recall_at_5_by_text"]:P1}, masked image {r["masked_image_recall_at_5_by_text"]:P1}, chance {r["chance_recall_at_5_by_text"]:P1} ({clock.Elapsed.TotalSeconds:F0}s)");
                }
                if (seed == seeds[0]) Picture(parts, testSet, args.String("picture", "vl-eval-reconstructions.png"));

                row["m3ae_probe_accuracy"] = ProbeAccuracy(parts, trainSet, trainY, testSet, testY, seed);
                row["random_probe_accuracy"] = ProbeAccuracy(random, trainSet, trainY, testSet, testY, seed);

            }
            if (run.Contains("mae"))
            {
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
            }
            if (run.Contains("multimae"))
            {
                var multiClock = Stopwatch.StartNew();
                manual_seed(seed);
                var multi = multiRecipe.Build(multiOptions, context);
                var (mFirst, mLast) = Train(multiRecipe.Name, multi, multiRecipe.Training with { Steps = steps, Batch = batch, CheckpointEvery = steps + 1 }, seed, trainSet, multiClock);
                row["multimae_train_s"] = multiClock.Elapsed.TotalSeconds; row["multimae_first_loss"] = mFirst; row["multimae_last_loss"] = mLast;
                // Both sides fit their cut-off on the training images (the symmetric protocol); the model's 0.5 is kept for reference.
                var testMaps = SilhouetteMaps(multi, testSet);
                double cutOff = FitCutOff(SilhouetteMaps(multi, trainSet));
                row["silhouette_cut_off"] = cutOff;
                row["silhouette_iou"] = MeanIou(testMaps, cutOff);
                row["silhouette_iou_at_half"] = MeanIou(testMaps, 0.5);
                double threshold = ColourThreshold.Fit(trainSet);
                row["baseline_silhouette_iou"] = ColourThreshold.Iou(testSet, threshold);
                row["baseline_threshold"] = threshold;
                row["caption_token_accuracy"] = CaptionTokenAccuracy(multi, testSet, imageShown: true);
                row["caption_token_accuracy_without_image"] = CaptionTokenAccuracy(multi, testSet, imageShown: false);
                Console.Error.WriteLine($"  seed {seed} multimae: silhouette IoU {row["silhouette_iou"]:F3} (cut-off {cutOff:F2}; {row["silhouette_iou_at_half"]:F3} at 0.5) vs colour threshold {row["baseline_silhouette_iou"]:F3} (t={threshold:F2}); caption tokens {row["caption_token_accuracy"]:P1} with the image, {row["caption_token_accuracy_without_image"]:P1} without ({clock.Elapsed.TotalSeconds:F0}s)");
                if (seed == seeds[0]) Picture(multi, testSet, args.String("multimae-picture", "vl-eval-multimae.png"));
            }
            perSeed.Add(row);
        }

        double? Mean(string key) => perSeed.All(r => r.ContainsKey(key)) ? perSeed.Average(r => r[key]) : null;
        BenchArgs.Emit(new
        {
            @case = Name, reader, seeds, steps, batch, train_pairs = trainSet.Count, test_pairs = testSet.Count, skipped = issues.Count,
            run = run.Order().ToArray(), score_masks = scoreMaskList, text_weight = options.TextWeight, text_mask = options.TextMaskRatio, image_mask = options.ImageMaskRatio, budget = multiOptions.Budget, adapter_dim = multiOptions.AdapterDim, recolour = multiOptions.Recolour, flip = multiOptions.Flip, subsets = multiOptions.SampleSubsets, alpha_weight = multiOptions.AlphaWeight,
            recall_at_1 = Mean("recall_at_1"), recall_at_5 = Mean("recall_at_5"), recall_at_10 = Mean("recall_at_10"),
            masked_image_recall_at_5 = Mean("masked_image_recall_at_5"), chance_recall_at_5 = Mean("chance_recall_at_5"),
            recall_at_5_by_text = Mean("recall_at_5_by_text"), masked_image_recall_at_5_by_text = Mean("masked_image_recall_at_5_by_text"), chance_recall_at_5_by_text = Mean("chance_recall_at_5_by_text"),
            m3ae_probe_accuracy = Mean("m3ae_probe_accuracy"), mae_probe_accuracy = Mean("mae_probe_accuracy"), random_probe_accuracy = Mean("random_probe_accuracy"),
            silhouette_iou = Mean("silhouette_iou"), silhouette_iou_at_half = Mean("silhouette_iou_at_half"), baseline_silhouette_iou = Mean("baseline_silhouette_iou"),
            caption_token_accuracy = Mean("caption_token_accuracy"), caption_token_accuracy_without_image = Mean("caption_token_accuracy_without_image"),
            m3ae_train_s = Mean("m3ae_train_s"), mae_train_s = Mean("mae_train_s"), multimae_train_s = Mean("multimae_train_s"), wall_s = clock.Elapsed.TotalSeconds,
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

    /// <summary>Per-sample caption loss [B] of <paramref name="batch"/> (image i with caption j), every real token hidden once over <paramref name="masks"/> interleaved masks.</summary>
    static float[] CaptionLoss(ModelParts parts, List<Sample> batch, bool imageMasked, int masks)
    {
        using var held = new Maskwork.Backend.Nn.HeldScalars(); // no temporary Scalars in a long loop (Held.cs)
        using var scope = NewDisposeScope();
        var tokens = parts.Tokenizer.Tokenize(batch, CPU);
        var text = tokens.Parts!["text"];
        long b = tokens.BatchSize, ni = tokens.TokenCount, nt = text.TokenCount;
        var imagePlan = imageMasked ? MaskPlan.FromDense(ones(b, ni, dtype: ScalarType.Bool)) : MaskPlan.None(b, ni, CPU);
        var objective = (M3aeObjective)parts.Objective;
        var total = new float[b];
        var real = text.Padding!.logical_not();
        var counts = real.sum(1).data<long>().ToArray();
        for (int k = 0; k < masks; k++)
        {
            var hide = (arange(nt, dtype: ScalarType.Int64).remainder(held.Int(masks)).eq(held.Int(k))).unsqueeze(0).logical_and(real);
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

    /// <summary>
    /// Recall@K of each image's caption. Captions with the same token ids count as one — the model cannot tell them apart
    /// ("negative squared latin capital letter b" and "… letter o" both end in [UNK] when the training captions lack the
    /// letters) — and chance is the exact probability that K captions drawn at random include one of the image's. The
    /// same numbers with captions told apart by their text are kept with the suffix <c>_by_text</c>.
    /// </summary>
    static Dictionary<string, double> Retrieval(ModelParts parts, List<Sample> test, int masks)
    {
        int n = test.Count;
        var texts = test.Select(s => ((TextSample)((MultiPartSample)s).Parts["text"]).Text).ToArray();
        var ids = TokenKeys(parts, test);
        var prior = Batched(test, s => s, parts, imageMasked: true, masks); // loss(caption j | no image)
        var score = new float[n, n];
        for (int i = 0; i < n; i++)
        {
            var row = Batched(test, c => Pair(test[i], c), parts, imageMasked: false, masks);
            for (int j = 0; j < n; j++) score[i, j] = row[j] - prior[j];
        }
        double Recall(int k, Func<int, int, float> s, string[] same)
        {
            int hits = 0;
            for (int i = 0; i < n; i++)
            {
                var ranked = Enumerable.Range(0, n).OrderBy(j => s(i, j)).ThenBy(j => j).Take(k);
                if (ranked.Any(j => same[j] == same[i])) hits++;
            }
            return hits / (double)n;
        }
        double Chance(int k, string[] same) => Enumerable.Range(0, n).Average(i =>
        {
            int d = same.Count(c => c == same[i]);
            double none = 1;
            for (int t = 0; t < k; t++) none *= Math.Max(0, n - d - t) / (double)(n - t);
            return 1 - none;
        });
        var result = new Dictionary<string, double>();
        foreach (var (same, suffix) in new[] { (ids, ""), (texts, "_by_text") })
        {
            result["recall_at_1" + suffix] = Recall(1, (i, j) => score[i, j], same);
            result["recall_at_5" + suffix] = Recall(5, (i, j) => score[i, j], same);
            result["recall_at_10" + suffix] = Recall(10, (i, j) => score[i, j], same);
            result["masked_image_recall_at_5" + suffix] = Recall(5, (i, j) => prior[j], same);
            result["chance_recall_at_5" + suffix] = Chance(5, same);
            result["distinct_captions" + suffix] = same.Distinct().Count();
        }
        return result;
    }

    /// <summary>Each sample's caption as its token ids (what the model sees), one string per sample.</summary>
    static string[] TokenKeys(ModelParts parts, List<Sample> set)
    {
        var keys = new List<string>();
        foreach (var chunk in set.Chunk(256))
        {
            using var scope = NewDisposeScope();
            var text = parts.Tokenizer.Tokenize(chunk, CPU).Parts!["text"];
            long length = text.TokenCount;
            var ids = text.Tokens.reshape(text.BatchSize, length).contiguous().data<long>().ToArray();
            for (int i = 0; i < text.BatchSize; i++) keys.Add(string.Join(',', ids.AsSpan((int)(i * length), (int)length).ToArray()));
        }
        return keys.ToArray();
    }

    static float[] Batched(List<Sample> test, Func<Sample, Sample> make, ModelParts parts, bool imageMasked, int masks)
    {
        var result = new List<float>();
        foreach (var chunk in test.Chunk(256)) result.AddRange(CaptionLoss(parts, chunk.Select(make).ToList(), imageMasked, masks));
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

    static MaskPlan Hide(long b, long n) => MaskPlan.FromDense(ones(b, n, dtype: ScalarType.Bool));

    /// <summary>
    /// MultiMAE's silhouette from RGB alone (alpha and caption fully masked): each pixel's predicted alpha probability and
    /// whether its true alpha is &gt; 0.5, per image.
    /// </summary>
    static List<(float[] Probability, bool[] Truth)> SilhouetteMaps(ModelParts parts, List<Sample> set)
    {
        using var held = new Maskwork.Backend.Nn.HeldScalars(); // no temporary Scalars in a long loop (Held.cs)
        var objective = (MultiMaeObjective)parts.Objective;
        var tokenizer = (Maskwork.Backend.Tokenization.PartsTokenizer)parts.Tokenizer;
        var maps = new List<(float[], bool[])>();
        foreach (var chunk in set.Chunk(128))
        {
            using var scope = NewDisposeScope();
            var tokens = parts.Tokenizer.Tokenize(chunk, CPU);
            var alpha = tokens.Parts!["alpha"];
            long b = tokens.BatchSize;
            var none = MaskPlan.None(b, tokens.TokenCount, CPU);
            var plan = none with { Parts = new Dictionary<string, MaskPlan> { ["image"] = none, ["alpha"] = Hide(b, alpha.TokenCount), ["text"] = Hide(b, tokens.Parts["text"].TokenCount) } };
            MultiMaePrediction p;
            using (no_grad()) p = objective.Predict(tokens, plan, parts.Encoder.Encode(tokens, plan), out _);
            var probability = tokenizer["alpha"].Detokenize(p.AlphaLogits.sigmoid(), alpha).reshape(b, -1).contiguous().data<float>().ToArray();
            var truth = tokenizer["alpha"].Detokenize(alpha.Tokens, alpha).gt(held[0.5]).reshape(b, -1).contiguous().data<bool>().ToArray();
            int n = probability.Length / (int)b;
            for (int i = 0; i < b; i++) maps.Add((probability[(i * n)..((i + 1) * n)], truth[(i * n)..((i + 1) * n)]));
        }
        return maps;
    }

    /// <summary>The model's alpha cut-off: the one of a 0.05 grid that maximises mean IoU on the training maps (ties: nearest 0.5), as the baseline fits its threshold.</summary>
    static double FitCutOff(List<(float[] Score, bool[] Truth)> train) => FitThreshold(train, CutOffGrid, t => Math.Abs(t - 0.5));

    static readonly double[] CutOffGrid = [.. Enumerable.Range(1, 19).Select(i => i * 0.05)];

    /// <summary>The threshold of <paramref name="grid"/> with the best mean IoU on <paramref name="maps"/>, ties to the lowest <paramref name="tie"/>.</summary>
    static double FitThreshold(List<(float[] Score, bool[] Truth)> maps, double[] grid, Func<double, double> tie) =>
        grid.OrderByDescending(t => MeanIou(maps, t)).ThenBy(tie).First();

    static double MeanIou(List<(float[] Score, bool[] Truth)> maps, double threshold) => maps.Average(m => Iou(m, threshold));

    /// <summary>IoU of (score &gt; threshold) against the truth mask; an image with neither is a perfect 1.</summary>
    static double Iou((float[] Score, bool[] Truth) p, double threshold)
    {
        int inter = 0, union = 0;
        for (int i = 0; i < p.Score.Length; i++)
        {
            bool f = p.Score[i] > threshold, t = p.Truth[i];
            if (f && t) inter++;
            if (f || t) union++;
        }
        return union == 0 ? 1 : inter / (double)union;
    }

    /// <summary>MultiMAE's caption-token accuracy: every real caption token hidden once over <see cref="Masks"/> interleaved masks, with RGB and alpha fully shown or fully hidden.</summary>
    static double CaptionTokenAccuracy(ModelParts parts, List<Sample> test, bool imageShown)
    {
        using var held = new Maskwork.Backend.Nn.HeldScalars(); // no temporary Scalars in a long loop (Held.cs)
        var objective = (MultiMaeObjective)parts.Objective;
        long right = 0, hiddenTotal = 0;
        foreach (var chunk in test.Chunk(128))
        {
            using var scope = NewDisposeScope();
            var tokens = parts.Tokenizer.Tokenize(chunk, CPU);
            var text = tokens.Parts!["text"];
            long b = tokens.BatchSize, ni = tokens.TokenCount, na = tokens.Parts["alpha"].TokenCount, nt = text.TokenCount;
            var real = text.Padding!.logical_not();
            var ids = text.Tokens.squeeze(-1);
            for (int k = 0; k < Masks; k++)
            {
                var hide = arange(nt, dtype: ScalarType.Int64).remainder(held.Int(Masks)).eq(held.Int(k)).unsqueeze(0).logical_and(real);
                var image = imageShown ? MaskPlan.None(b, ni, CPU) : Hide(b, ni);
                var alpha = imageShown ? MaskPlan.None(b, na, CPU) : Hide(b, na);
                var plan = image with { Parts = new Dictionary<string, MaskPlan> { ["image"] = image, ["alpha"] = alpha, ["text"] = MaskPlan.FromDense(hide) } };
                MultiMaePrediction p;
                using (no_grad()) p = objective.Predict(tokens, plan, parts.Encoder.Encode(tokens, plan), out _);
                right += p.TextLogits.argmax(-1).eq(ids).logical_and(hide).sum().item<long>();
                hiddenTotal += hide.sum().item<long>();
            }
        }
        return right / (double)Math.Max(1, hiddenTotal);
    }

    /// <summary>
    /// The colour-threshold silhouette baseline: the background is the per-channel median of the image's border pixels, a
    /// pixel is foreground when some channel differs from it by more than a threshold, the threshold the one of a grid that
    /// maximises mean IoU on the training images.
    /// </summary>
    static class ColourThreshold
    {
        static readonly double[] Grid = [.. Enumerable.Range(1, 40).Select(i => i * 0.0125)];

        public static double Fit(List<Sample> train) => FitThreshold(train.Select(Distances).ToList(), Grid, t => t);

        public static double Iou(List<Sample> set, double threshold) => MeanIou(set.Select(Distances).ToList(), threshold);

        /// <summary>Each pixel's largest channel distance from the border-median background, and whether alpha &gt; 0.5.</summary>
        static (float[] Distance, bool[] Truth) Distances(Sample s)
        {
            var m = (MultiPartSample)s;
            var rgb = m.Parts["image"].Values;
            var alpha = m.Parts["alpha"].Values;
            int size = m.Parts["image"].Shape[1], n = size * size;
            var bg = new float[3];
            for (int c = 0; c < 3; c++)
            {
                var border = new List<float>();
                for (int i = 0; i < size; i++)
                {
                    border.Add(rgb[c * n + i]); border.Add(rgb[c * n + (size - 1) * size + i]);
                    border.Add(rgb[c * n + i * size]); border.Add(rgb[c * n + i * size + size - 1]);
                }
                border.Sort();
                bg[c] = border[border.Count / 2];
            }
            var d = new float[n];
            var truth = new bool[n];
            for (int i = 0; i < n; i++)
            {
                d[i] = Math.Max(Math.Abs(rgb[i] - bg[0]), Math.Max(Math.Abs(rgb[n + i] - bg[1]), Math.Abs(rgb[2 * n + i] - bg[2])));
                truth[i] = alpha[i] > 0.5f;
            }
            return (d, truth);
        }
    }

    static Tensor MaskRandomKeys(List<Sample> samples) => tensor(Enumerable.Range(0, samples.Count).Select(i => (long)i).ToArray());
}
