using System.Text.Json;
using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Training;
using Maskwork.Plugins.Lidar.Masking;
using Maskwork.Plugins.Lidar.Recipes;
using Maskwork.Plugins.Lidar.Sensor;
using Maskwork.Plugins.Lidar.Voxels;
using NetTopologySuite.Features;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Lidar.Tests;

/// <summary>Radial masking on the real KITTI scan, the recipe (training, exact resume), the BEV picture and the GeoJSON export.</summary>
public sealed class ModelTests : IDisposable
{
    readonly string root = Directory.CreateTempSubdirectory("mw-lidar-model-").FullName;
    public void Dispose() => Directory.Delete(root, true);

    /// <summary>A small configuration: the front 51.2 m at 0.8 m (64 × 64 × 5 voxels), 5° sectors, a narrow encoder.</summary>
    static readonly LidarOptions Tiny = new()
    {
        Range = [0, -25.6, -3, 51.2, 25.6, 1], Voxel = [0.8, 0.8, 0.8], SectorDegrees = 5, Channels = [8, 16, 16], Strides = [1, 2, 2],
    };

    static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    static readonly LidarRecipe Recipe = new("lidar/r-mae", "", new LidarOptions());

    static async Task<List<Sample>> Scan(LidarOptions o)
    {
        var (s, _) = await Shared.Read(Shared.Kitti, Recipe.DataOptions(o).Select(kv => (kv.Key, kv.Value)).ToArray());
        return s.Select((x, i) => x with { Index = i }).ToList();
    }

    static (ModelParts Parts, TokenBatch Tokens) Tokens(LidarOptions o, List<Sample> samples, long[] keys)
    {
        manual_seed(3);
        var parts = Recipe.Build(o, new BuildContext(CPU, new DataSpec("lidar", "")));
        ((VoxelTokenizer)parts.Tokenizer).AugmentWhile = () => false;
        var batch = keys.Select(k => samples[0] with { Index = k }).ToList();
        var tokens = parts.Tokenizer.Tokenize(batch, CPU) with { SampleKeys = tensor(keys) };
        return (parts, tokens);
    }

    [Fact]
    public async Task Radial_masks_hide_whole_sectors_at_the_ratio_and_draw_per_sample_with_the_seed()
    {
        var o = Tiny with { FallbackShare = 0 }; // the fallback has its own test
        var samples = await Scan(o);
        var (parts, tokens) = Tokens(o, samples, [0, 1, 2, 3]);
        var masker = (RadialMasker)parts.Masker;
        var table = masker.Table;
        var plan = masker.Plan(tokens, new MaskContext(5, new Generator(1)) { Seed = 9 });
        var dense = plan.Dense!;
        Assert.Equal([4L, o.Grid().Voxels], dense.shape);
        Assert.Equal(0, plan.Visible.shape[1]);

        var sector = table.CellSectors.repeat(o.Grid().Z);
        var occupied = tokens.Tokens.select(2, 0).gt(0.5);
        var sectors = sector.data<long>().ToArray();
        for (int b = 0; b < 4; b++)
        {
            var m = dense[b].data<bool>().ToArray();
            var occ = occupied[b].data<bool>().ToArray();
            // Whole sectors: every voxel of a sector shares its fate; voxels outside the region are hidden.
            var fate = new Dictionary<long, bool>();
            for (int v = 0; v < m.Length; v++)
            {
                if (sectors[v] < 0) { Assert.True(m[v]); continue; }
                if (fate.TryGetValue(sectors[v], out bool f)) Assert.Equal(f, m[v]);
                else fate[sectors[v]] = m[v];
            }
            var nonEmpty = Enumerable.Range(0, m.Length).Where(v => occ[v] && sectors[v] >= 0).Select(v => sectors[v]).Distinct().ToHashSet();
            var kept = fate.Where(kv => !kv.Value).Select(kv => kv.Key).ToList();
            Assert.Equal((int)((1 - 0.8) * nonEmpty.Count), kept.Count);     // int((1 − ratio) · non-empty sectors)
            Assert.All(kept, s => Assert.Contains(s, nonEmpty));           // empty sectors are never the kept ones
        }
        Assert.False(Same(dense[0], dense[1]), "two samples get different sectors");
        var again = masker.Plan(tokens, new MaskContext(5, new Generator(77)) { Seed = 9 }).Dense!;
        Assert.True(Same(again, dense), "same seed, step and keys: the same masks");
        var reordered = masker.Plan(Tokens(o, samples, [2, 0]).Tokens, new MaskContext(5, new Generator(1)) { Seed = 9 }).Dense!;
        Assert.True(Same(reordered[1], dense[0]), "a sample's mask does not depend on its batch position");
        Assert.False(Same(masker.Plan(tokens, new MaskContext(6, new Generator(1)) { Seed = 9 }).Dense!, dense), "another step, other masks");
        Assert.Equal((long)Math.Round(dense.sum().item<long>() / 4.0), plan.MaskedCount);
    }

    [Fact]
    public async Task Too_few_surviving_voxels_fall_back_to_a_random_tenth_of_the_occupied_ones()
    {
        var samples = await Scan(Tiny);
        // Kept sectors can never hold 95 % of the occupied voxels at ratio 0.8: every sample falls back.
        var (parts, tokens) = Tokens(Tiny with { FallbackShare = 0.95 }, samples, [0, 1]);
        var plan = parts.Masker.Plan(tokens, new MaskContext(0, new Generator(1)) { Seed = 1 });
        var occupied = tokens.Tokens.select(2, 0).gt(0.5);
        for (int b = 0; b < 2; b++)
        {
            long n = occupied[b].sum().item<long>();
            long visible = occupied[b].logical_and(plan.Dense![b].logical_not()).sum().item<long>();
            Assert.Equal((long)Math.Floor(0.95 * n), visible);
            Assert.Equal(visible, plan.Dense![b].logical_not().sum().item<long>()); // only occupied voxels stay visible
        }
    }

    [Fact]
    public async Task Range_aware_and_occupancy_mae_masks_keep_their_shares_per_band()
    {
        var samples = await Scan(Tiny);
        var o = Tiny with { Masker = "occupancy-mae", MaskRatio = 0.9, BandEdges = [15, 30] };
        var (parts, tokens) = Tokens(o, samples, [0, 1]);
        var plan = parts.Masker.Plan(tokens, new MaskContext(0, new Generator(1)) { Seed = 1 });
        var table = ((OccupancyMaeMasker)parts.Masker);
        var sectorTable = SectorTable.For(o.Grid(), o.Field());
        var distance = sectorTable.CellDistances.repeat(o.Grid().Z).data<float>().ToArray();
        var occ = tokens.Tokens.select(2, 0).gt(0.5)[0].data<bool>().ToArray();
        var m = plan.Dense![0].data<bool>().ToArray();
        double[] share = [1 - 0.9, 1 - 0.9 + 0.2, 1 - 0.9 + 0.2]; // as the reference computes them (floating point included)
        for (int band = 0; band < 3; band++)
        {
            bool In(int v) => band == 0 ? distance[v] <= 15 : band == 1 ? distance[v] > 15 && distance[v] <= 30 : distance[v] > 30;
            int n = Enumerable.Range(0, m.Length).Count(v => occ[v] && In(v));
            int visible = Enumerable.Range(0, m.Length).Count(v => occ[v] && In(v) && !m[v]);
            Assert.Equal((int)Math.Floor(share[band] * n), visible);
        }
        Assert.DoesNotContain(Enumerable.Range(0, m.Length), v => m[v] && !occ[v]); // only occupied voxels are hidden

        var ro = Tiny with { Masker = "radial-range", BandEdges = [20] };
        var (rp, rt) = Tokens(ro, samples, [0]);
        var rplan = rp.Masker.Plan(rt, new MaskContext(0, new Generator(1)) { Seed = 1 });
        Assert.True(rplan.Dense!.any().item<bool>());
        Assert.True(rplan.Dense!.logical_not().any().item<bool>());
    }

    [Fact]
    public async Task One_forward_pass_is_finite()
    {
        var samples = await Scan(Tiny);
        var (parts, tokens) = Tokens(Tiny, samples, [0, 1]);
        var plan = parts.Masker.Plan(tokens, new MaskContext(0, new Generator(1)) { Seed = 1 });
        Assert.True(tokens.Tokens.isfinite().all().item<bool>(), "tokens finite");
        var enc = parts.Encoder.Encode(tokens, plan);
        Assert.True(enc.Latent.isfinite().all().item<bool>(), "latent finite");
        var logits = ((Model.OccupancyObjective)parts.Objective).Logits(enc);
        Assert.True(logits.isfinite().all().item<bool>(), "logits finite");
        var loss = parts.Objective.Compute(tokens, plan, enc).Loss.item<float>();
        Assert.True(float.IsFinite(loss) && loss > 0.3 && loss < 1.5, $"loss {loss}");
    }

    [Fact]
    public async Task Visible_weight_scores_the_masked_voxels_alone_at_0_and_every_voxel_alike_at_1()
    {
        var samples = await Scan(Tiny);
        var (parts, tokens) = Tokens(Tiny, samples, [0, 1]);
        var plan = parts.Masker.Plan(tokens, new MaskContext(0, new Generator(1)) { Seed = 1 });
        var enc = parts.Encoder.Encode(tokens, plan);
        var encoder = (Model.OccupancyEncoder)parts.Encoder;
        var grid = Tiny.Grid();
        var logits = ((Model.OccupancyObjective)parts.Objective).Logits(enc).to_type(ScalarType.Float64);
        var target = tokens.Tokens.select(2, 0).to_type(ScalarType.Float64);
        var masked = plan.Dense!;
        // Brute force: −[w₊·y·log σ(z) + (1 − y)·log(1 − σ(z))] per voxel, then plain means.
        var p = logits.sigmoid();
        var each = target.mul(p.log()).mul(5.0).add(target.neg().add(1.0).mul(p.neg().add(1.0).log())).neg();
        double maskedMean = each[masked].mean().item<double>(), allMean = target.mul(p.log()).add(target.neg().add(1.0).mul(p.neg().add(1.0).log())).neg().mean().item<double>();
        double halfMean = each.mul(masked.to_type(ScalarType.Float64).mul(0.5).add(0.5)).sum().item<double>() / masked.to_type(ScalarType.Float64).mul(0.5).add(0.5).sum().item<double>();
        Assert.True(masked.any().item<bool>() && masked.logical_not().any().item<bool>(), "the plan masks some voxels and keeps some");
        var objective = (Model.OccupancyObjective)parts.Objective;
        // Each objective has its own decoder: score the same logits through a copy of this one's state.
        double Same(double visibleWeight, double posWeight)
        {
            var o = new Model.OccupancyObjective(encoder, grid, posWeight, visibleWeight);
            o.load_state_dict(objective.state_dict());
            return o.Compute(tokens, plan, enc).Loss.item<float>();
        }
        Assert.Equal(allMean, Same(1, 0), 4);
        Assert.Equal(maskedMean, Same(0, 5), 4);
        Assert.Equal(halfMean, Same(0.5, 5), 4);
        Assert.Throws<ArgumentException>(() => new Model.OccupancyObjective(encoder, grid, 0, 1.5));
    }

    [Fact]
    public async Task The_recipe_learns_and_resume_retraces_an_uninterrupted_run()
    {
        var samples = await Scan(Tiny);
        var data = new SampleSet(samples);
        var train = Recipe.Training with { Steps = 16, Batch = 2, WarmupSteps = 2, CheckpointEvery = 100, Lr = 3e-3 };
        Trainer Make()
        {
            manual_seed(7);
            var parts = Recipe.Build(Tiny, new BuildContext(CPU, new DataSpec("lidar", "")));
            return new Trainer(new TrainerSetup("lidar/r-mae", parts, train, 7, CPU, ScalarType.Float32), data);
        }
        var losses = new List<double>();
        using var straight = Make();
        straight.Run(16, CancellationToken.None, r => losses.Add(r.Loss));
        Assert.True(losses.Skip(12).Average() < 0.85 * losses.Take(2).Average(), $"BCE should fall: {string.Join(", ", losses.Select(l => l.ToString("F3")))}");

        string path = Path.Combine(root, "half.ckpt");
        using (var first = Make())
        {
            first.Run(8, CancellationToken.None);
            first.Save(path, 0);
        }
        var resumed = new List<double>();
        using var second = Make();
        second.Load(path);
        Assert.Equal(8, second.Step);
        second.Run(16, CancellationToken.None, r => resumed.Add(r.Loss));
        Assert.Equal(losses[8..], resumed);
        Assert.True(straight.Optimizer.Parameters.allclose(second.Optimizer.Parameters, rtol: 0, atol: 0));
    }

    [Fact]
    public async Task The_mask_picture_and_the_geojson_show_the_sectors_of_a_real_scan()
    {
        var samples = await Scan(Tiny);
        string geo = Path.Combine(root, "mask.geojson");
        var o = Tiny with { Geojson = geo, FallbackShare = 0 };
        var (parts, tokens) = Tokens(o, samples, [0, 1]);
        var plan = parts.Masker.Plan(tokens, new MaskContext(0, new Generator(1)) { Seed = 1 });
        var (h, w, rgb) = parts.MaskRenderer!.Render(tokens, plan, parts.Tokenizer);
        Assert.True(h > 2 * 64 * 2 && w > 2 * 64 * 2);
        Assert.Equal(h * w * 3, rgb.Length);
        Backend.Visuals.RgbImage image = new(w, h, rgb);
        image.SavePng(Path.Combine(root, "masks.png"));
        // Blue sector rays and dark-red hidden cells are both on the picture.
        int blue = 0, red = 0;
        for (int i = 0; i < rgb.Length; i += 3)
        {
            if (rgb[i + 2] > 200 && rgb[i] < 120) blue++;
            if (rgb[i] == 70 && rgb[i + 1] == 20 && rgb[i + 2] == 20) red++;
        }
        Assert.True(blue > 100 && red > 1000, $"blue {blue}, dark red {red}");

        // The GeoJSON parses back with NetTopologySuite: sectors with their kept flags, occupied cells with theirs.
        var back = JsonSerializer.Deserialize<FeatureCollection>(File.ReadAllText(geo), GeoJsonExport.Options)!;
        var sectors = back.Where(f => (string)f.Attributes["kind"] == "sector").ToList();
        var cells = back.Where(f => (string)f.Attributes["kind"] == "cell").ToList();
        Assert.NotEmpty(sectors);
        Assert.True(cells.Count > 100);
        int kept = sectors.Count(f => (bool)f.Attributes["kept"]);
        Assert.Equal((int)(0.2 * sectors.Count), kept);
        Assert.All(sectors, f => Assert.True(f.Geometry.IsValid && f.Geometry.Area > 0));
        var occupied = tokens.Tokens.select(2, 0).gt(0.5)[0].view(o.Grid().Z, -1).any(0).sum().item<long>();
        Assert.Equal(occupied, cells.Count);
        var masked = cells.Count(f => (bool)f.Attributes["masked"]);
        Assert.InRange(masked, cells.Count / 2, cells.Count - 1);
    }
}
