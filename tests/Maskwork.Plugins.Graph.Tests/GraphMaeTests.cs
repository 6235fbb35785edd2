using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Training;
using Maskwork.Plugins.Graph.Nn;
using Maskwork.Plugins.Graph.Recipes;
using TorchSharp;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Graph.Tests;

public class GraphMaeTests
{
    static GatLayerOptions NoDropout => new(0, 0, Activation: "prelu");

    [Fact]
    public void Node_masker_masks_int_rate_times_n_disjoint_complete_and_seeded()
    {
        var tokens = new GraphTokenizer().Tokenize([TinyGraphs.Ring(2708, 4)], CPU);
        var masker = new NodeMasker(0.5);
        var plan = masker.Plan(tokens, new MaskContext(0, new Generator(7)));
        Assert.Equal(1354, plan.MaskedCount);
        Assert.Equal(1354, plan.VisibleCount);
        var all = cat([plan.Visible, plan.Masked], 1).view(-1).sort().Values;
        Assert.True(all.Same(arange(2708, dtype: ScalarType.Int64)));
        var again = masker.Plan(tokens, new MaskContext(0, new Generator(7)));
        Assert.True(again.Masked.Same(plan.Masked));
        Assert.False(masker.Plan(tokens, new MaskContext(0, new Generator(8))).Masked.Same(plan.Masked));
        Assert.Equal(3, new NodeMasker(0.3).MaskedCount(11)); // int(0.3 · 11) = 3, as GraphMAE counts
    }

    [Fact]
    public void Replace_rate_splits_masked_nodes_into_token_noise_and_unchanged()
    {
        manual_seed(0);
        var encoder = new GraphMaeEncoder(4, 8, 2, 1, 0.05, NoDropout);
        var masked = randperm(2708)[..1354];
        var (token, noise, sources) = encoder.Replacement(masked, 2708);
        Assert.Equal(1286, token.shape[0]);  // int(0.95 · 1354)
        Assert.Equal(67, noise.shape[0]);    // int(0.05 · 1354); the one left over keeps its features
        Assert.Equal(67, sources.shape[0]);
        var maskedSet = masked.data<long>().ToHashSet();
        var tokenSet = token.data<long>().ToHashSet();
        Assert.Equal(1286, tokenSet.Count);
        Assert.All(noise.data<long>().ToArray(), v => Assert.True(maskedSet.Contains(v) && !tokenSet.Contains(v)));
        Assert.All(sources.data<long>().ToArray(), v => Assert.InRange(v, 0, 2707));

        var none = new GraphMaeEncoder(4, 8, 2, 1, 0, NoDropout).Replacement(masked, 2708);
        Assert.Equal(1354, none.TokenNodes.shape[0]);
        Assert.Equal(0, none.NoiseNodes.shape[0]);
    }

    [Fact]
    public void Corrupt_puts_the_mask_token_and_random_features_only_on_masked_nodes()
    {
        manual_seed(1);
        var encoder = new GraphMaeEncoder(3, 8, 2, 1, 0.25, NoDropout);
        using (no_grad()) encoder.MaskToken.copy_(tensor(new float[] { 7, 8, 9 }, [1, 3]));
        var x = arange(60, dtype: ScalarType.Float32).view(20, 3) + 100;  // every row distinct, none equal to the token
        var masked = tensor(new long[] { 2, 5, 7, 11, 13, 17, 19, 0 });
        manual_seed(4);
        var (token, noise, sources) = encoder.Replacement(masked, 20);
        manual_seed(4);
        var y = encoder.Corrupt(x, masked);
        Assert.Equal(6, token.shape[0]);
        Assert.Equal(2, noise.shape[0]);
        foreach (long t in token.data<long>().ToArray()) Assert.True(y[t].Same(tensor(new float[] { 7, 8, 9 })), $"node {t} should hold the token");
        var n = noise.data<long>().ToArray();
        var s = sources.data<long>().ToArray();
        for (int k = 0; k < n.Length; k++) Assert.True(y[n[k]].Same(x[s[k]]), $"node {n[k]} should hold node {s[k]}'s features");
        var untouched = Enumerable.Range(0, 20).Where(i => !masked.data<long>().Contains(i)).Select(i => (long)i).ToArray();
        Assert.True(y.index_select(0, tensor(untouched)).Same(x.index_select(0, tensor(untouched))));
        y.sum().backward();
        Assert.Equal(6f, encoder.MaskToken.grad!.sum().item<float>() / 3, 5);
    }

    [Fact]
    public void Sparse_first_layer_path_equals_the_dense_path()
    {
        var graph = TinyGraphs.Ring(40, 30, seed: 2, sparse: true);
        var tokens = new GraphTokenizer().Tokenize([graph], CPU);
        manual_seed(3);
        var encoder = new GraphMaeEncoder(30, 8, 2, 2, 0.2, NoDropout);
        using (no_grad()) encoder.MaskToken.normal_();
        encoder.eval();
        var plan = new NodeMasker(0.5).Plan(tokens, new MaskContext(0, new Generator(1)));
        var masked = plan.Masked.reshape(-1);
        var first = encoder.named_parameters().First(p => p.name.EndsWith("weight", StringComparison.Ordinal) && p.parameter.dim() == 2).parameter;
        manual_seed(9);
        var sparse = encoder.ProjectSparse(tokens.Tokens[0], masked);
        manual_seed(9);
        var dense = nn.functional.linear(encoder.Corrupt(tokens.Tokens[0], masked), first);
        Assert.True(sparse.allclose(dense, rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void Scaled_cosine_error_on_known_vectors()
    {
        var x = tensor(new float[] { 1, 0, 2, 0, 1, 1 }, [3, 2]);
        var y = tensor(new float[] { 0, 3, 5, 0, 1, 0 }, [3, 2]);
        // cosines 0, 1, 1/√2 → (1 − cos)^α
        double c = 1 - 1 / Math.Sqrt(2);
        Assert.Equal((1 + 0 + c) / 3, ScaledCosineError.Loss(x, y, 1).item<float>(), 5);
        Assert.Equal((1 + 0 + c * c * c) / 3, ScaledCosineError.Loss(x, y, 3).item<float>(), 5);
        Assert.Equal(0f, ScaledCosineError.Loss(x, x * 4, 3).item<float>(), 6);
    }

    [Fact]
    public void Graphmae_trains_through_the_trainer_and_the_loss_falls()
    {
        var graph = TinyGraphs.Communities(4, 50, 64, seed: 1);
        var recipe = GraphMaeRecipe.Cora();
        var options = new GraphMaeOptions { Hidden = 16, Heads = 2, Features = 64 };
        manual_seed(0);
        var parts = recipe.Build(options, new BuildContext(CPU, new DataSpec("planetoid", "")));
        Assert.Equal(ProbeLevel.Token, parts.ProbeLevel);
        var losses = new List<double>();
        using var trainer = new Trainer(new TrainerSetup(recipe.Name, parts, recipe.Training with { Steps = 60, Lr = 0.01, CheckpointEvery = 0 }, 0, CPU, ScalarType.Float32),
            new SampleSet([graph]));
        trainer.Run(60, CancellationToken.None, r => losses.Add(r.Loss));
        Assert.Equal(60, losses.Count);
        Assert.True(losses.Skip(50).Average() < losses.Take(10).Average() * 0.8, $"loss {losses.Take(10).Average():F4} → {losses.Skip(50).Average():F4}");
        Assert.Equal(0, trainer.NonFiniteSteps);

        using var nodes = NodeProbe.Features(parts, [graph], CPU, ScalarType.Float32);
        Assert.True(((nn.Module)parts.Encoder).training, "probing must leave the encoder in training mode");
        Assert.Equal(new long[] { 200, 16 }, nodes.Features.shape);
        Assert.Equal(graph.NodeLabels.Select(l => (long)l), nodes.Labels);
        Assert.Equal(graph.NodeSplits.Select(s => (long)s), nodes.Splits);
    }

    [Fact]
    public void Recipes_carry_the_published_configurations()
    {
        var cora = GraphMaeRecipe.Cora();
        var o = (GraphMaeOptions)cora.DefaultOptions;
        Assert.Equal((512, 4, 2, "prelu", 0.2, 0.1, 0.5, 0.05, 3.0), (o.Hidden, o.Heads, o.Layers, o.Activation, o.InputDropout, o.AttentionDropout, o.MaskRate, o.ReplaceRate, o.Alpha));
        Assert.Equal((1500, 1e-3, 2e-4, WeightDecayMode.L2, 0.0, 0), (cora.Training.Steps, cora.Training.Lr!.Value, cora.Training.WeightDecay, cora.Training.WeightDecayMode, cora.Training.ClipGrad, cora.Training.WarmupSteps));
        Assert.Equal(new NodeProbeOptions(300, 0.01, 1e-4), NodeProbeOptions.From(OptionsJson.ToJson(o)));
        var citeseer = GraphMaeRecipe.CiteSeer();
        var c = (GraphMaeOptions)citeseer.DefaultOptions;
        Assert.Equal((2, 0.1, 1.0), (c.Heads, c.ReplaceRate, c.Alpha));
        Assert.Equal((300, 2e-5), (citeseer.Training.Steps, citeseer.Training.WeightDecay));
        Assert.Equal(new NodeProbeOptions(300, 0.01, 0.01), NodeProbeOptions.From(OptionsJson.ToJson(c)));
        // The schedule is GraphMAE's (1 + cos(π·epoch/max)) / 2 with no warm-up.
        var schedule = LrSchedule.From(cora.Training);
        foreach (int epoch in new[] { 0, 100, 750, 1499 })
            Assert.Equal(1e-3 * (1 + Math.Cos(Math.PI * epoch / 1500)) / 2, schedule.At(epoch), 12);
    }
}
