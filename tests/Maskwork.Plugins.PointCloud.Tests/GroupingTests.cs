using Maskwork.Abstractions;
using Maskwork.Backend.Masking;
using Maskwork.Backend.Objectives;
using Maskwork.Plugins.PointCloud.Tokenization;
using static TorchSharp.torch;

namespace Maskwork.Plugins.PointCloud.Tests;

public sealed class GroupingTests
{
    static float[,,] RandomClouds(int b, int n, int seed)
    {
        var rng = new Random(seed);
        var a = new float[b, n, 3];
        for (int i = 0; i < b; i++) for (int j = 0; j < n; j++) for (int c = 0; c < 3; c++) a[i, j, c] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }

    static Tensor ToTensor(float[,,] a) => tensor(a.Cast<float>().ToArray(), [a.GetLength(0), a.GetLength(1), 3]);

    static float D2(float[,,] p, int b, int i, float[] c) =>
        (p[b, i, 0] - c[0]) * (p[b, i, 0] - c[0]) + (p[b, i, 1] - c[1]) * (p[b, i, 1] - c[1]) + (p[b, i, 2] - c[2]) * (p[b, i, 2] - c[2]);

    static float[] Point(float[,,] p, int b, long i) => [p[b, i, 0], p[b, i, 1], p[b, i, 2]];

    [Theory]
    [InlineData(3, 40, 8, 1)]
    [InlineData(2, 17, 17, 2)]
    [InlineData(4, 64, 1, 3)]
    public void Farthest_point_sampling_equals_a_brute_force_loop(int batch, int n, int g, int seed)
    {
        var clouds = RandomClouds(batch, n, seed);
        var got = PointGroups.FarthestPointSample(ToTensor(clouds), g).data<long>().ToArray();
        for (int b = 0; b < batch; b++)
        {
            // Reference: start at 0; next = argmax over points of min distance to chosen (first index wins ties).
            var chosen = new List<int> { 0 };
            while (chosen.Count < g)
            {
                int best = -1; float bestD = -1;
                for (int i = 0; i < n; i++)
                {
                    float d = chosen.Min(c => D2(clouds, b, i, Point(clouds, b, c)));
                    if (d > bestD) { bestD = d; best = i; }
                }
                chosen.Add(best);
            }
            Assert.Equal(chosen.Select(c => (long)c), got.Skip(b * g).Take(g));
        }
    }

    [Theory]
    [InlineData(2, 30, 5, 4, 7)]
    [InlineData(3, 50, 8, 12, 8)]
    public void Knn_equals_a_brute_force_sort(int batch, int n, int g, int k, int seed)
    {
        var clouds = RandomClouds(batch, n, seed);
        var centres = RandomClouds(batch, g, seed + 100);
        var got = PointGroups.KNearest(ToTensor(centres), ToTensor(clouds), k).data<long>().ToArray();
        for (int b = 0; b < batch; b++)
            for (int c = 0; c < g; c++)
            {
                var expected = Enumerable.Range(0, n).OrderBy(i => D2(clouds, b, i, Point(centres, b, c))).ThenBy(i => i).Take(k).Select(i => (long)i);
                Assert.Equal(expected, got.Skip((b * g + c) * k).Take(k));
            }
    }

    [Fact]
    public void Chamfer_equals_hand_computed_values()
    {
        // a = {(0,0,0), (1,0,0)}, b = {(0,0,0), (0,2,0), (1,1,0)}.
        // a→b nearest squared: 0, 1 → mean 0.5; b→a: 0, 4, 1 → mean 5/3. L2 = 0.5 + 5/3.
        // L1: a→b 0, 1 → 0.5; b→a 0, 2, 1 → 1; (0.5 + 1) / 2 = 0.75.
        var a = tensor(new float[] { 0, 0, 0, 1, 0, 0 }, [1, 2, 3]);
        var b = tensor(new float[] { 0, 0, 0, 0, 2, 0, 1, 1, 0 }, [1, 3, 3]);
        Assert.Equal(0.5 + 5.0 / 3, Chamfer.L2(a, b).item<float>(), 5);
        Assert.Equal(0.5 + 5.0 / 3, Chamfer.L2(b, a).item<float>(), 5);      // symmetric
        Assert.Equal(0.75, Chamfer.L1(a, b).item<float>(), 4);
        Assert.Equal(0, Chamfer.L2(b, b).item<float>(), 6);
        // Batched: the second pair is the first shifted by (0,0,3) on one side: every distance grows.
        var ab = cat([a, a], 0);
        var bb = cat([b, b + tensor(new float[] { 0, 0, 3 })], 0);
        var batched = Chamfer.L2(ab, bb).data<float>().ToArray();
        Assert.Equal(0.5 + 5.0 / 3, batched[0], 5);
        // a→b+3z: (0,0,0)→9, (1,0,0)→1+9 = 10 → 9.5; b+3z→a: 9, 13, 10 → 32/3.
        Assert.Equal(9.5 + 32.0 / 3, batched[1], 4);
    }

    [Fact]
    public void Chamfer_has_gradients_towards_the_target()
    {
        var a = tensor(new float[] { 0.5f, 0, 0 }, [1, 1, 3]).requires_grad_(true);
        var b = zeros(1, 1, 3);
        Chamfer.L2(a, b).sum().backward();
        Assert.Equal(2 * 2 * 0.5f, a.grad!.data<float>()[0], 5);   // d/dx of 2·x² at 0.5
    }

    static Sample Cloud(int n, int seed, int label = 0)
    {
        var rng = new Random(seed);
        var v = new float[n * 3];
        for (int i = 0; i < v.Length; i++) v[i] = (float)(rng.NextDouble() * 4 - 1);
        return new Sample(v, [n, 3], label, $"cloud{seed}");
    }

    [Fact]
    public void Tokenizer_groups_are_kNN_of_FPS_centres_and_detokenize_gives_back_input_points()
    {
        var tokenizer = new PointGroupTokenizer(points: 128, groups: 16, groupSize: 8);
        var batch = new[] { Cloud(128, 1, 3), Cloud(300, 2, 5), Cloud(50, 3, 7) };
        var tokens = tokenizer.Tokenize(batch, CPU);
        Assert.Equal([3, 16, 24], tokens.Tokens.shape);
        Assert.Equal([3, 16, 3], tokens.Positions!.shape);
        Assert.Equal(new PointLayout(16, 3), tokens.Layout);
        Assert.Equal([3L, 5, 7], tokens.Labels!.data<long>().ToArray());
        // Every group's nearest point is its own centre: the first relative point is zero.
        Assert.True(tokens.Tokens.reshape(3, 16, 8, 3)[.., .., 0].abs().max().item<float>() < 1e-6);
        // The normalised cloud is centred in the unit ball.
        var points = tokens.Extras["points"];
        Assert.True(points.mean([1L]).abs().max().item<float>() < 1e-5);
        Assert.Equal(1f, points.square().sum(-1).sqrt().amax([1L]).min().item<float>(), 5);

        // Detokenize is the inverse: every grouped point is a point of the original cloud, in its coordinates.
        var back = tokenizer.Detokenize(tokens.Tokens, tokens);
        Assert.Equal([3, 128, 3], back.shape);
        for (int i = 0; i < 3; i++)
        {
            var original = tensor(batch[i].Values, [batch[i].Shape[0], 3]);
            var nearest = (back[i].unsqueeze(1) - original.unsqueeze(0)).square().sum(-1).amin([1L]);
            Assert.True(nearest.max().item<float>() < 1e-8, $"cloud {i}: a detokenised point is not an input point");
        }
        // Deterministic: the same batch gives the same tokens.
        Assert.True(tokens.Tokens.Same(tokenizer.Tokenize(batch, CPU).Tokens));
    }

    [Fact]
    public void Tokenizer_rejects_non_point_samples_by_source()
    {
        var tokenizer = new PointGroupTokenizer(64, 8, 8);
        var e = Assert.Throws<InvalidDataFileException>(() => tokenizer.Tokenize([new Sample(new float[12], [12], null, "flat.bin")], CPU));
        Assert.Equal("flat.bin", e.File);
    }

    [Fact]
    public void Augmentation_runs_only_while_asked_is_seeded_and_rotates_about_the_up_axis()
    {
        bool training = false;
        var tokenizer = new PointGroupTokenizer(128, 16, 8, new PointAugment(UpAxis: 2)) { AugmentWhile = () => training };
        var batch = new[] { Cloud(128, 4), Cloud(128, 5) };
        var plain = tokenizer.Tokenize(batch, CPU);
        training = true;
        manual_seed(11);
        var a = tokenizer.Tokenize(batch, CPU).Extras["points"];
        manual_seed(11);
        var b = tokenizer.Tokenize(batch, CPU).Extras["points"];
        Assert.True(a.Same(b));
        Assert.False(a.allclose(plain.Extras["points"]));

        // Rotation alone keeps the up coordinate and the distance to the up axis.
        var rotate = new PointAugment(UpAxis: 1, RotateDegrees: 180, ScaleMin: 1, ScaleMax: 1, JitterSigma: 0);
        var p = plain.Extras["points"];
        var r = rotate.Apply(p, new Generator(5));
        Assert.True(r[.., .., 1].allclose(p[.., .., 1], atol: 1e-6));
        var radial = (Tensor x) => (x[.., .., 0].square() + x[.., .., 2].square()).sqrt();
        Assert.True(radial(r).allclose(radial(p), atol: 1e-5));
        Assert.False(r.allclose(p, atol: 1e-3));
        var m = rotate.RotationAbout(tensor(new[] { 0.7f }));
        Assert.True(m.matmul(m.transpose(1, 2)).allclose(eye(3).unsqueeze(0), atol: 1e-6));   // orthonormal
        Assert.Equal(1, linalg.det(m).item<float>(), 5);                                         // a rotation, not a reflection
    }

    [Fact]
    public void Random_group_masking_has_exact_disjoint_complete_seeded_sets()
    {
        var tokenizer = new PointGroupTokenizer(256, 64, 32);
        var tokens = tokenizer.Tokenize([Cloud(256, 1), Cloud(256, 2), Cloud(256, 3)], CPU);
        var masker = new RandomMasker(0.6);
        var plan = masker.Plan(tokens, new MaskContext(0, new Generator(9)));
        Assert.Equal(25, plan.VisibleCount);      // int(64 · 0.4)
        Assert.Equal(39, plan.MaskedCount);
        var all = cat([plan.Visible, plan.Masked], 1).sort(1).Values;
        Assert.True(all.Same(arange(64).unsqueeze(0).expand(3, 64)));
        var again = masker.Plan(tokens, new MaskContext(0, new Generator(9)));
        Assert.True(again.Visible.Same(plan.Visible));
        Assert.False(masker.Plan(tokens, new MaskContext(0, new Generator(10))).Visible.Same(plan.Visible));
    }
}
