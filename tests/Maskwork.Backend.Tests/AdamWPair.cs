using Maskwork.Backend.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Maskwork.Backend.Tests;

/// <summary>
/// Our flat AdamW and TorchSharp's AdamW over identical copies of seeded parameters (weight decay on
/// the ones of two or more dimensions, as MAE groups them), for tests that the two stay equal.
/// </summary>
sealed record AdamWPair(List<Parameter> Ours, List<Parameter> Theirs, FlatAdamW Flat, optim.Optimizer Reference)
{
    /// <param name="fused">The flat optimizer's update path; null keeps its default.</param>
    public static AdamWPair Make(long[][] shapes, bool? fused = null)
    {
        manual_seed(7);
        var ours = shapes.Select(s => nn.Parameter(randn(s))).ToList();
        var theirs = ours.Select(p => nn.Parameter(p.detach().clone())).ToList();
        bool Decays(int i) => shapes[i].Length >= 2;
        var flat = new FlatAdamW(ours.Select((p, i) => new OptimizedParameter($"p{i}", p, Decays(i))).ToList(), 0.9, 0.95, 0.05);
        if (fused is { } f) flat.Fused = f;
        var reference = optim.AdamW(
        [
            new AdamW.ParamGroup(theirs.Where((_, i) => Decays(i)), new AdamW.Options { weight_decay = 0.05, beta1 = 0.9, beta2 = 0.95 }),
            new AdamW.ParamGroup(theirs.Where((_, i) => !Decays(i)), new AdamW.Options { weight_decay = 0.0, beta1 = 0.9, beta2 = 0.95 }),
        ], lr: 1e-2);
        return new AdamWPair(ours, theirs, flat, reference);
    }

    /// <summary>Sets the reference's learning rate and back-propagates the same random loss through both parameter sets.</summary>
    public void Backward(double lr)
    {
        foreach (var g in Reference.ParamGroups) g.LearningRate = lr;
        var target = randn(1);
        foreach (var set in new[] { Ours, Theirs })
            (set.Select(p => (p * p).sum() * target).Aggregate((a, b) => a + b) + set[0].sum().pow(3)).backward();
    }

    public void AssertEqual()
    {
        for (int i = 0; i < Ours.Count; i++)
            Assert.True(Ours[i].allclose(Theirs[i], rtol: 1e-5, atol: 1e-6), $"parameter {i} differs");
    }
}
