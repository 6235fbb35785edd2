using Maskwork.Backend.Training;
using static TorchSharp.torch;

namespace Maskwork.Teachers.Tests;

public class TargetTests
{
    // One sample, two tokens, three features.
    static Tensor Known() => tensor(new float[] { 1, 2, 3, 2, 4, 9 }, [1, 2, 3]);

    [Fact]
    public void Layer_norm_by_hand()
    {
        var y = FeatureTargets.Normalize(Known(), TargetNorm.Layer).data<float>().ToArray();
        // token [1,2,3]: mean 2, biased variance 2/3; token [2,4,9]: mean 5, variance (9+1+16)/3 = 26/3
        double s1 = Math.Sqrt(2.0 / 3 + 1e-6), s2 = Math.Sqrt(26.0 / 3 + 1e-6);
        double[] expected = [-1 / s1, 0, 1 / s1, -3 / s2, -1 / s2, 4 / s2];
        for (int i = 0; i < 6; i++) Assert.True(Math.Abs(expected[i] - y[i]) < 1e-5, $"{i}: {y[i]} vs {expected[i]}");
    }

    [Fact]
    public void Instance_norm_by_hand()
    {
        var y = FeatureTargets.Normalize(Known(), TargetNorm.Instance).data<float>().ToArray();
        // over the two tokens per channel: [1,2] → ±1/√(0.25+1e-5)·0.5, [2,4] → ±1, [3,9] → ±3/√(9+1e-5)
        double a = 0.5 / Math.Sqrt(0.25 + 1e-5), b = 1 / Math.Sqrt(1 + 1e-5), c = 3 / Math.Sqrt(9 + 1e-5);
        double[] expected = [-a, -b, -c, a, b, c];
        for (int i = 0; i < 6; i++) Assert.True(Math.Abs(expected[i] - y[i]) < 1e-5, $"{i}: {y[i]} vs {expected[i]}");
    }

    [Fact]
    public void Top_k_averages_the_normalised_last_blocks_and_layers_pick_one()
    {
        var b1 = Known();
        var b2 = Known() * 2 + 1; // normalises to the same as b1 under layer norm
        var b3 = tensor(new float[] { 3, 2, 1, 9, 4, 2 }, [1, 2, 3]);
        var final = tensor(new float[] { 5, 5, 6, 1, 0, 0 }, [1, 2, 3]);
        Tensor[] blocks = [b1, b2, b3];
        var top2 = FeatureTargets.Build(final, blocks, new TargetSpec(TopK: 2, Norm: TargetNorm.Layer));
        var expected = (FeatureTargets.Normalize(b2, TargetNorm.Layer) + FeatureTargets.Normalize(b3, TargetNorm.Layer)) / 2;
        Assert.True(top2.allclose(expected, atol: 1e-6));
        Assert.True(FeatureTargets.Build(final, blocks, new TargetSpec(Layer: -1, Norm: TargetNorm.None)).allclose(b3));
        Assert.True(FeatureTargets.Build(final, blocks, new TargetSpec(Layer: 1, Norm: TargetNorm.None)).allclose(b1));
        Assert.True(FeatureTargets.Build(final, blocks, new TargetSpec(Norm: TargetNorm.None)).allclose(final));
        Assert.Throws<ArgumentException>(() => new TargetSpec(TopK: 4).Check(3));
        Assert.Throws<ArgumentException>(() => new TargetSpec(Layer: -4).Check(3));
    }

    [Fact]
    public void Losses_by_hand()
    {
        var p = tensor(new float[] { 1, 0, 0, 1 }, [1, 2, 2]);
        var t = tensor(new float[] { 0, 1, 0, 3 }, [1, 2, 2]);
        Assert.Equal((1 + 1 + 0 + 4) / 4.0, FeatureTargets.Loss(p, t, FeatureLoss.Mse).item<float>(), 5);
        Assert.Equal((0.5 + 0.5 + 0 + 1.5) / 4.0, FeatureTargets.Loss(p, t, FeatureLoss.SmoothL1).item<float>(), 5);
        Assert.Equal(((1 - 0) + (1 - 1)) / 2.0, FeatureTargets.Loss(p, t, FeatureLoss.Cosine).item<float>(), 5); // cos 0 and cos 1
        Assert.Equal(FeatureLoss.SmoothL1, FeatureTargets.ParseLoss("smooth-l1"));
        Assert.Contains("cosine", Assert.Throws<ArgumentException>(() => FeatureTargets.ParseLoss("kl")).Message);
    }
}
