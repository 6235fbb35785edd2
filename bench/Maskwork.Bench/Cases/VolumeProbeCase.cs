using System.Diagnostics;
using System.Globalization;
using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Nn;
using Maskwork.Backend.Objectives;
using Maskwork.Backend.Training;
using Maskwork.Formats.Nifti;
using Maskwork.Plugins.Volume.Preprocessing;
using Maskwork.Plugins.Volume.Readers;
using Maskwork.Plugins.Volume.Recipes;
using Maskwork.Plugins.Volume.Tokenization;
using static TorchSharp.torch;

namespace Maskwork.Bench.Cases;

/// <summary>
/// <c>volume-probe</c>: self-pretraining on one brain (the small-data setting). <c>volume/mae3d</c> pretrains on random
/// crops of the LEFT hemisphere of the Colin27 T1 (mricron-data's ch2bet.nii.gz, 2 mm, MR z-score, foreground crop;
/// left–right flips at 0.5, no other flips or rotations: the right hemisphere's voxels stay unseen, but the encoder sees
/// mirrored left-hemisphere anatomy, which is what the right hemisphere looks like; anterior–posterior and up–down flips
/// would scramble the positional cues the lobe probe reads — measured, seed 0, 600 steps: no flips probe 0.352 /
/// masked NMSE 1.014; flips on every axis 0.313 / 0.979; x flips only 0.405 / 0.975). Then:
/// <list type="bullet">
/// <item>a token-level linear probe on frozen encoder features (all tokens visible) predicts each 8³ patch's AAL lobe
/// (aal.nii.gz on the same grid, regions merged into 7 lobes, <see cref="LobeOf"/>; patches whose voxels are ≥ 50 %
/// labelled and ≥ 60 % one lobe), trained on left-hemisphere patches and tested on right-hemisphere ones (patches
/// crossing the midline are dropped); against the same probe on the randomly initialised encoder and logistic regression
/// on the raw patch voxels;</item>
/// <item>the reconstruction error on held-out crops of the right hemisphere: norm-pix MSE on the masked patches that are
/// not flat (voxel std above 0.05 z; background patches have no scale to normalise by) (1.0 = predicting each patch's own mean), against interpolation: the visible patches' voxels filled into the masked ones by
/// normalised 3×3×3 averaging repeated until every voxel is reached (a trilinear-like diffusion fill), then normalised
/// with the TRUE patch's mean and std (which favours the baseline).</item>
/// </list>
/// </summary>
public sealed class VolumeProbeCase : IBenchCase
{
    public string Name => "volume-probe";
    public string Summary => "volume/mae3d self-pretrained on Colin27 (left hemisphere): AAL-lobe token probe vs random init / raw, masked NMSE vs interpolation";

    /// <summary>The 7 lobes the probe predicts (class ids 0–6).</summary>
    public static readonly string[] Lobes = ["frontal", "parietal", "temporal", "occipital", "limbic+insula", "subcortical", "cerebellum"];

    /// <summary>
    /// AAL region → lobe (−1 = none). Frontal: precentral, frontal_*, supplementary motor, olfactory, rectus, rolandic
    /// operculum, paracentral lobule. Parietal: postcentral, parietal_*, supramarginal, angular, precuneus. Temporal:
    /// heschl, temporal_* (incl. poles), fusiform. Occipital: calcarine, cuneus, lingual, occipital_*. Limbic + insula:
    /// cingulum_*, hippocampus, parahippocampal, amygdala, insula. Subcortical: caudate, putamen, pallidum, thalamus.
    /// Cerebellum: cerebelum_*, vermis_*.
    /// </summary>
    public static int LobeOf(string region)
    {
        string r = region.EndsWith("_L") || region.EndsWith("_R") ? region[..^2] : region;
        if (r.StartsWith("Cerebelum") || r.StartsWith("Vermis")) return 6;
        if (r is "Caudate" or "Putamen" or "Pallidum" or "Thalamus") return 5;
        if (r.StartsWith("Cingulum") || r is "Hippocampus" or "ParaHippocampal" or "Amygdala" or "Insula") return 4;
        if (r is "Calcarine" or "Cuneus" or "Lingual" || r.StartsWith("Occipital")) return 3;
        if (r is "Heschl" or "Fusiform" || r.StartsWith("Temporal")) return 2;
        if (r is "Postcentral" or "SupraMarginal" or "Angular" or "Precuneus" || r.StartsWith("Parietal")) return 1;
        if (r is "Precentral" or "Supp_Motor_Area" or "Olfactory" or "Rectus" or "Rolandic_Oper" or "Paracentral_Lobule" || r.StartsWith("Frontal")) return 0;
        return -1;
    }

    public async Task<int> RunAsync(BenchArgs args)
    {
        string templates = args.String("templates", "/usr/share/mricron/templates");
        string image = Path.Combine(templates, "ch2bet.nii.gz"), atlas = Path.Combine(templates, "aal.nii.gz"), names = Path.Combine(templates, "aal.nii.txt");
        foreach (var f in new[] { image, atlas, names })
            if (!File.Exists(f)) { Console.Error.WriteLine($"{f} is missing: apt-get install mricron-data"); return 1; }
        int steps = args.Int("steps", 1500), batch = args.Int("batch", 16), heldOut = args.Int("held-out", 32);
        var seeds = args.String("seeds", "0,1,2").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        if (args.Value("threads") is not null) set_num_threads(args.Int("threads", 2));
        var options = Mae3dOptions.Cpu() with
        {
            FlipProbability = args.Double("flip", 0.5), RotateProbability = args.Double("rotate", 0), FlipAxes = args.String("flip-axes", "x").Split(','),
            EncoderDim = args.Int("dim", 192), EncoderDepth = args.Int("depth", 4), MaskRatio = args.Double("mask-ratio", 0.75),
            Crop = args.Value("crop") is { } c ? [.. c.Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture))] : Mae3dOptions.Cpu().Crop,
            Patch = args.Int("patch", 8), DecoderDim = args.Int("decoder-dim", 96), DecoderDepth = args.Int("decoder-depth", 2),
        };
        var recipe = new Mae3dRecipe("volume/mae3d", "", options, Mae3dRecipe.CpuTraining);
        var train = recipe.Training with { Steps = steps, Batch = batch, WarmupSteps = Math.Min(40, steps / 10), BaseLr = args.Double("blr", recipe.Training.BaseLr) };
        var clock = Stopwatch.StartNew();

        // The brain and its atlas on the same 2 mm RAS grid (labels resampled nearest).
        var spec = new DataSpec("nifti", image) { Options = recipe.DataOptions(options) };
        var brain = NiftiReader.Decode(image, NiftiReadOptions.Default, VolumePreprocess.From(spec), "time", atlas, 1e-3).Single();
        var regionLobe = File.ReadLines(names).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Where(p => p.Length >= 2)
            .ToDictionary(p => int.Parse(p[0], CultureInfo.InvariantCulture), p => LobeOf(p[1]));
        int Z = brain.Shape[1], Y = brain.Shape[2], X = brain.Shape[3];
        var lobes = brain.LabelMap!.Select(v => regionLobe.TryGetValue((int)Math.Round(v), out int l) ? l : -1).ToArray();
        // Voxel i is left of the midline when its world x < 0 (MNI space: x = 0 is the midline).
        double ax = brain.Affine[0], bx = brain.Affine[3];
        int midline = (int)Math.Round(-bx / ax); // first voxel with x ≥ 0
        Console.Error.WriteLine($"volume-probe: brain {X}x{Y}x{Z} voxels at 2 mm, midline at i = {midline}, {regionLobe.Count} AAL regions → {Lobes.Length} lobes ({clock.Elapsed.TotalSeconds:F0}s)");

        var full = tensor(brain.Values, [1, Z, Y, X]);
        var left = new Sample(full.narrow(3, 0, midline).contiguous().data<float>().ToArray(), [1, Z, Y, midline], null, image + "#left") { Index = 0 };

        var crop = options.Crop;
        int p = options.Patch;
        var (tileX, tileY, tileSide, tileCount) = TokenSet(full, lobes, Z, Y, X, crop, p, midline);
        Console.Error.WriteLine($"volume-probe: {tileY.Count(s => s.Train)} left / {tileY.Count(s => !s.Train)} right labelled patches from {tileCount} crops");
        var heldOutCrops = HeldOutCrops(full, lobes, Z, Y, X, crop, midline, heldOut);

        var results = new List<Dictionary<string, double>>();
        foreach (int seed in seeds)
        {
            var seedClock = Stopwatch.StartNew();
            manual_seed(seed);
            var random = recipe.Build(options, new BuildContext(CPU, spec));
            manual_seed(seed);
            var parts = recipe.Build(options, new BuildContext(CPU, spec));
            using var trainer = new Trainer(new TrainerSetup("volume/mae3d", parts, train, seed, CPU, ScalarType.Float32), new SampleSet([left]));
            double firstLoss = double.NaN, lastLoss = double.NaN;
            trainer.Run(steps, CancellationToken.None, r =>
            {
                if (r.Step == 1) firstLoss = r.Loss;
                lastLoss = r.Loss;
                if (r.Step % 100 == 0) Console.Error.WriteLine($"  seed {seed} step {r.Step} loss {r.Loss:F4} ({seedClock.Elapsed.TotalSeconds:F0}s)");
            });
            double trainSeconds = seedClock.Elapsed.TotalSeconds;
            trainer.Model.eval();
            ((nn.Module)random.Encoder).eval();

            double accuracy = ProbeAccuracy(parts, tileX, tileY, seed);
            double randomAccuracy = ProbeAccuracy(random, tileX, tileY, seed);
            double rawAccuracy = RawAccuracy(parts, tileX, tileY, seed);
            var (nmse, interp) = Reconstruction(parts, heldOutCrops, seed);
            Console.Error.WriteLine($"  seed {seed}: probe {accuracy:F4} random init {randomAccuracy:F4} raw {rawAccuracy:F4}; masked nmse {nmse:F4} interpolation {interp:F4}; loss {firstLoss:F3} → {lastLoss:F3}; {seedClock.Elapsed.TotalSeconds:F0}s");
            results.Add(new()
            {
                ["seed"] = seed, ["accuracy"] = accuracy, ["random_init_accuracy"] = randomAccuracy, ["raw_accuracy"] = rawAccuracy,
                ["masked_nmse"] = nmse, ["interpolation_nmse"] = interp, ["first_loss"] = firstLoss, ["final_loss"] = lastLoss,
                ["train_seconds"] = trainSeconds, ["seconds"] = seedClock.Elapsed.TotalSeconds,
            });
        }
        double Mean(string k) => results.Average(r => r[k]);
        BenchArgs.Emit(new
        {
            @case = Name, steps, batch, blr = train.BaseLr, flip = options.FlipProbability, flip_axes = string.Join(',', options.FlipAxes), rotate = options.RotateProbability, crop = string.Join('x', crop), patch = p, encoder = $"{options.EncoderDim}x{options.EncoderDepth}",
            mask_ratio = options.MaskRatio, seeds, train_patches = tileY.Count(s => s.Train), test_patches = tileY.Count(s => !s.Train),
            held_out_crops = heldOutCrops.Count,
            accuracy = Mean("accuracy"), random_init_accuracy = Mean("random_init_accuracy"), raw_accuracy = Mean("raw_accuracy"),
            masked_nmse = Mean("masked_nmse"), interpolation_nmse = Mean("interpolation_nmse"),
            per_seed = results, seconds = clock.Elapsed.TotalSeconds,
        });
        await Task.CompletedTask;
        return 0;
    }

    /// <summary>A labelled patch: which crop it is in, which token of that crop, its lobe, and whether it trains (left) or tests (right).</summary>
    public readonly record struct PatchRef(int Crop, int Token, int Lobe, bool Train);

    /// <summary>
    /// Crops [C, cz, cy, cx] tiling the (zero-padded) brain at offsets {0, crop/2} per axis, and the patches with a clear
    /// lobe: at least half their voxels labelled, at least 60 % of those one lobe, entirely on one side of the midline.
    /// </summary>
    static (Tensor Crops, List<PatchRef> Patches, List<bool> Side, int Count) TokenSet(Tensor full, int[] lobes, int Z, int Y, int X, int[] crop, int p, int midline)
    {
        var cropList = new List<Tensor>();
        var patches = new List<PatchRef>();
        var lobeT = tensor(lobes.Select(l => (float)l).ToArray(), [1, Z, Y, X]);
        int[] size = [Z, Y, X];
        var starts = Enumerable.Range(0, 3).Select(d => Starts(size[d], crop[d])).ToArray();
        int gz = crop[0] / p, gy = crop[1] / p, gx = crop[2] / p;
        foreach (int z0 in starts[0]) foreach (int y0 in starts[1]) foreach (int x0 in starts[2])
        {
            var c = Cut(full, z0, y0, x0, crop, 0f);
            var l = Cut(lobeT, z0, y0, x0, crop, -1f)[0];
            int index = cropList.Count;
            bool any = false;
            for (int tz = 0; tz < gz; tz++) for (int ty = 0; ty < gy; ty++) for (int tx = 0; tx < gx; tx++)
            {
                int xs = x0 + tx * p;
                bool leftSide = xs + p <= midline, rightSide = xs >= midline;
                if (!leftSide && !rightSide) continue;
                var patch = l.narrow(0, tz * p, p).narrow(1, ty * p, p).narrow(2, tx * p, p).flatten();
                var counts = patch.add(1).to_type(ScalarType.Int64).bincount(null, 8).data<long>().ToArray(); // −1 → bin 0
                long labelled = counts.Skip(1).Sum();
                if (labelled * 2 < patch.numel()) continue;
                int best = Enumerable.Range(1, 7).MaxBy(k => counts[k]);
                if (counts[best] * 10 < labelled * 6) continue;
                patches.Add(new PatchRef(index, (tz * gy + ty) * gx + tx, best - 1, leftSide));
                any = true;
            }
            if (any) cropList.Add(c);
        }
        return (stack(cropList), patches, patches.Select(q => q.Train).ToList(), cropList.Count);
    }

    static IEnumerable<int> Starts(int size, int crop)
    {
        var list = new SortedSet<int>();
        for (int s = 0; s < size; s += crop / 2) list.Add(Math.Min(s, Math.Max(0, size - crop)));
        return list;
    }

    /// <summary>A crop at (z0, y0, x0), padded with <paramref name="fill"/> where it leaves the volume.</summary>
    static Tensor Cut(Tensor v, int z0, int y0, int x0, int[] crop, float fill)
    {
        long Z = v.shape[1], Y = v.shape[2], X = v.shape[3];
        var padded = nn.functional.pad(v, [0, Math.Max(0, x0 + crop[2] - X), 0, Math.Max(0, y0 + crop[1] - Y), 0, Math.Max(0, z0 + crop[0] - Z)], value: fill);
        return padded.narrow(1, z0, crop[0]).narrow(2, y0, crop[1]).narrow(3, x0, crop[2]).contiguous();
    }

    /// <summary>Random crops lying wholly in the right hemisphere with a brain voxel at their centre (seeded, the same for every seed's model).</summary>
    static List<Tensor> HeldOutCrops(Tensor full, int[] lobes, int Z, int Y, int X, int[] crop, int midline, int count)
    {
        var rng = new Random(12345);
        var list = new List<Tensor>();
        for (int tries = 0; list.Count < count && tries < count * 100; tries++)
        {
            int z0 = rng.Next(0, Math.Max(1, Z - crop[0] + 1)), y0 = rng.Next(0, Math.Max(1, Y - crop[1] + 1));
            int x0 = midline + rng.Next(0, Math.Max(1, X - midline - crop[2] + 1));
            int cz = Math.Min(Z - 1, z0 + crop[0] / 2), cy = Math.Min(Y - 1, y0 + crop[1] / 2), cx = Math.Min(X - 1, x0 + crop[2] / 2);
            if (lobes[(cz * Y + cy) * X + cx] < 0) continue;
            list.Add(Cut(full, z0, y0, x0, crop, 0f));
        }
        return list;
    }

    static TokenBatch Tokens(ModelParts parts, Tensor crops)
    {
        var grid = ((VolumeTokenizer)parts.Tokenizer).Grid;
        long per = crops[0].numel();
        var flat = crops.contiguous().data<float>().ToArray();
        var shape = crops.shape.Skip(1).Select(v => (int)v).ToArray();
        var samples = Enumerable.Range(0, (int)crops.shape[0]).Select(i =>
        {
            var v = new float[per];
            Array.Copy(flat, i * per, v, 0, per);
            return new Sample(v, shape, null, "crop") { Index = i };
        }).ToList();
        return grid.Tokenize(samples, CPU);
    }

    /// <summary>Encoder features of every token of every crop [crops, N, D], all tokens visible.</summary>
    static Tensor Features(ModelParts parts, Tensor crops)
    {
        using var _ = no_grad();
        var outs = new List<Tensor>();
        for (long i = 0; i < crops.shape[0]; i += 32)
        {
            var tokens = Tokens(parts, crops.narrow(0, i, Math.Min(32, crops.shape[0] - i)));
            long b = tokens.BatchSize, n = tokens.TokenCount;
            var plan = new MaskPlan(arange(n).unsqueeze(0).expand(b, n).contiguous(), zeros([b, 0], dtype: ScalarType.Int64));
            outs.Add(parts.Encoder.Encode(tokens, plan).Latent.detach());
        }
        return cat(outs, 0);
    }

    static Tensor Pick(Tensor perToken, List<PatchRef> patches, bool train)
    {
        var chosen = patches.Where(q => q.Train == train).ToList();
        long n = perToken.shape[1];
        var rows = tensor(chosen.Select(q => q.Crop * n + q.Token).ToArray());
        return perToken.reshape(-1, perToken.shape[2]).index_select(0, rows);
    }

    static long[] Labels(List<PatchRef> patches, bool train) => patches.Where(q => q.Train == train).Select(q => (long)q.Lobe).ToArray();

    static double ProbeAccuracy(ModelParts parts, Tensor crops, List<PatchRef> patches, int seed)
    {
        using var scope = NewDisposeScope();
        var f = Features(parts, crops);
        return Probe.Linear(Pick(f, patches, true), Labels(patches, true), Pick(f, patches, false), Labels(patches, false), seed, new LinearProbeOptions(Epochs: 100, Batch: 256, Lr: 1e-2));
    }

    static double RawAccuracy(ModelParts parts, Tensor crops, List<PatchRef> patches, int seed)
    {
        using var scope = NewDisposeScope();
        var tokens = Tokens(parts, crops).Tokens;
        return Probe.Linear(Pick(tokens, patches, true), Labels(patches, true), Pick(tokens, patches, false), Labels(patches, false), seed, new LinearProbeOptions(Epochs: 100, Batch: 256, Lr: 1e-2));
    }

    /// <summary>Masked norm-pix MSE of the model and of interpolation on the held-out crops, with the same seeded masks.</summary>
    static (double Model, double Interpolation) Reconstruction(ModelParts parts, List<Tensor> crops, int seed)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var batch = stack(crops);
        var tokens = Tokens(parts, batch);
        tokens = tokens with { SampleKeys = arange(tokens.BatchSize) };
        var plan = parts.Masker.Plan(tokens, new MaskContext(0, new Generator((ulong)(1000 + seed))) { Seed = 1000 + seed });
        var prediction = ((IObjective)parts.Objective).Compute(tokens, plan, parts.Encoder.Encode(tokens, plan)).Reconstruction!; // voxel units

        // Interpolation: visible voxels known, masked ones filled by repeated normalised 3×3×3 averaging.
        var grid = ((VolumeTokenizer)parts.Tokenizer).Grid;
        var tokenMask = ones(tokens.BatchSize, tokens.TokenCount).scatter_(1, plan.Masked, zeros(plan.Masked.shape)); // 1 = visible
        var known = grid.Detokenize(tokenMask.unsqueeze(-1).expand_as(tokens.Tokens).contiguous(), tokens);
        var zero = grid.Detokenize(zeros_like(tokens.Tokens), tokens);
        var one = grid.Detokenize(ones_like(tokens.Tokens), tokens);
        known = ((known - zero) / (one - zero)).round();                    // [B, 1, Z, Y, X] of 0/1
        var weight = known.clone();
        var filled = batch * known;
        for (int it = 0; it < 64 && weight.eq(0).any().item<bool>(); it++)
        {
            var num = nn.functional.avg_pool3d(filled * weight.gt(0), [3, 3, 3], [1, 1, 1], [1, 1, 1]);
            var den = nn.functional.avg_pool3d(weight.gt(0).to_type(ScalarType.Float32), [3, 3, 3], [1, 1, 1], [1, 1, 1]);
            var fresh = weight.eq(0).logical_and(den.gt(0));
            filled = where(fresh, num / den.clamp_min(1e-12), filled);
            weight = where(fresh, ones_like(weight), weight);
        }
        var interpTokens = Tokens(parts, filled).Tokens;

        // Norm-pix errors on the masked patches that are not flat: a background patch (std ≈ 0) has target 0 and would
        // turn any voxel-unit error into an unbounded one for both methods; 1.0 = predicting each patch's own mean.
        var (mean, std) = Losses.TokenStatistics(tokens.Tokens);
        var target = (tokens.Tokens - mean) / std;
        Tensor Errors(Tensor guess) => Maskwork.Backend.Nn.TokenOps.Gather(((guess - mean) / std - target).Squared().mean([-1L], keepdim: true), plan.Masked);
        var keep = Maskwork.Backend.Nn.TokenOps.Gather(std, plan.Masked).gt(0.05).to_type(ScalarType.Float32);
        double Masked(Tensor e) => (e * keep).sum().item<float>() / Math.Max(1, keep.sum().item<float>());
        double model = Masked(Errors(prediction)), interp = Masked(Errors(interpTokens));
        return (model, interp);
    }
}
