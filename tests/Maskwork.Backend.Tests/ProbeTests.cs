using Maskwork.Abstractions;
using Maskwork.Backend.Training;
using static TorchSharp.torch;

namespace Maskwork.Backend.Tests;

/// <summary>How probe features pool an encoder's tokens.</summary>
public sealed class ProbeTests
{
    [Fact]
    public void Mean_max_pooling_is_the_token_mean_beside_the_token_max()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        var parts = Synthetic.Parts();
        var samples = Synthetic.Samples(6);
        var mean = Probe.Features(parts, samples, CPU, ScalarType.Float32, batch: 4);
        var meanMax = Probe.Features(parts, samples, CPU, ScalarType.Float32, FeaturePooling.MeanMax, batch: 4);
        Assert.Equal([6L, 32], mean.shape);
        Assert.Equal([6L, 64], meanMax.shape);
        Assert.True(TensorAssert.Same(mean, meanMax.narrow(1, 0, 32)), "the first half is the mean");
        using var _ = no_grad();
        var tokens = parts.Tokenizer.Tokenize(samples, CPU);
        var latent = parts.Encoder.Encode(tokens, MaskPlan.None(tokens.BatchSize, tokens.TokenCount, CPU)).Latent;
        Assert.True(meanMax.narrow(1, 32, 32).allclose(latent.amax([1L]), rtol: 0, atol: 1e-6), "the second half is the max over tokens");
        Assert.True((meanMax.narrow(1, 32, 32) >= mean - 1e-6).all().item<bool>());
    }

    [Fact]
    public void A_layer_readout_is_the_embedding_at_zero_and_the_encoder_output_at_full_depth()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        var parts = Synthetic.Parts();
        var samples = Synthetic.Samples(6);
        var layered = Assert.IsAssignableFrom<Maskwork.Backend.Nn.ILayeredEncoder>(parts.Encoder);
        var output = Probe.Features(parts, samples, CPU, ScalarType.Float32, batch: 4);
        var full = Probe.Features(parts, samples, CPU, ScalarType.Float32, new FeatureReadout(Layer: layered.Depth), batch: 4);
        Assert.True(TensorAssert.Same(output, full), "layer = depth is the encoder's own output");
        var embedding = Probe.Features(parts, samples, CPU, ScalarType.Float32, new FeatureReadout(Layer: 0), batch: 4);
        Assert.False(embedding.allclose(output, rtol: 0, atol: 1e-3), "layer 0 is not the output");
        Assert.Throws<ArgumentOutOfRangeException>(() => Probe.Features(parts, samples, CPU, ScalarType.Float32, new FeatureReadout(Layer: layered.Depth + 1)));
    }

    [Fact]
    public void The_teachers_layered_encoder_reads_every_layer_as_the_vit_it_was_loaded_from()
    {
        using var scope = NewDisposeScope();
        manual_seed(6);
        var parts = Synthetic.Parts();
        var vit = (Maskwork.Backend.Nn.VitEncoder)parts.Encoder;
        var layered = new LayeredVitEncoder(Synthetic.Dim, new Maskwork.Backend.Nn.TransformerShape(32, 2, 4));
        layered.load_state_dict(vit.state_dict());
        using var _ = no_grad();
        var tokens = parts.Tokenizer.Tokenize(Synthetic.Samples(3), CPU);
        var plan = MaskPlan.None(tokens.BatchSize, tokens.TokenCount, CPU);
        for (int k = 0; k <= vit.Depth; k++)
            Assert.True(TensorAssert.Same(vit.EncodeThrough(tokens, plan, k), layered.EncodeThrough(tokens, plan, k)), $"layer {k}");
        Assert.True(TensorAssert.Same(vit.Encode(tokens, plan).Latent, layered.EncodeThrough(tokens, plan, layered.Depth)));
        Assert.Throws<ArgumentOutOfRangeException>(() => layered.EncodeThrough(tokens, plan, -1));
    }
}
