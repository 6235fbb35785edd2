using Maskwork.Abstractions;
using Maskwork.Backend.Training;
using Maskwork.Plugins.VisionLanguage.Recipes;
using static TorchSharp.torch;

namespace Maskwork.Plugins.VisionLanguage.Tests;

public class ModelTests
{
    static readonly M3aeOptions Tiny = new() { Size = 16, Patch = 4, TextLength = 8, EncoderDim = 32, EncoderDepth = 1, EncoderHeads = 2, DecoderDim = 32, DecoderDepth = 1, DecoderHeads = 2 };

    [Fact]
    public void M3aeTrainsOnCaptionedStampsAndItsLossFalls()
    {
        manual_seed(0);
        var spec = new DataSpec("tuxpaint-stamps", "") { Split = "train", Options = new Dictionary<string, string> { ["size"] = "16" } };
        var samples = Stamps.Read(spec, new()).Take(32).ToList();
        var parts = new M3aeRecipe().Build(Tiny with { TextWeight = 1.0 }, new BuildContext(CPU, spec) { Tokenizers = Catalog.Both });
        using var model = new MaskedModel(parts);
        var optimizer = optim.AdamW(model.parameters(), lr: 3e-3);
        double first = 0, last = 0;
        for (int step = 0; step < 60; step++)
        {
            using var scope = NewDisposeScope();
            var tokens = parts.Tokenizer.Tokenize(samples, CPU) with { SampleKeys = arange(32L) };
            var plan = parts.Masker.Plan(tokens, new MaskContext(step, new Generator((ulong)step)) { Seed = 1 });
            Assert.Equal(4, plan.Parts!["image"].Visible.shape[1]); // 16 patches at 0.75
            var result = model.Forward(tokens, plan);
            optimizer.zero_grad();
            result.Loss.backward();
            optimizer.step();
            double loss = result.Loss.item<float>();
            Assert.True(double.IsFinite(loss));
            if (step < 5) first += loss / 5;
            if (step >= 55) last += loss / 5;
            Assert.Equal([32L, 16, 48], result.Reconstruction!.shape);
        }
        Assert.True(last < 0.8 * first, $"loss {first:F3} → {last:F3}");
        // A probe's plan (no parts) encodes the image alone: 16 patches.
        using var _ = NewDisposeScope();
        var t = parts.Tokenizer.Tokenize(samples.Take(2).ToList(), CPU);
        Assert.Equal([2L, 16, 32], parts.Encoder.Encode(t, MaskPlan.None(2, t.TokenCount, CPU)).Latent.shape);
        // The reconstruction picture renders (image rows plus captions).
        var keyed = t with { SampleKeys = arange(2L) };
        var plan2 = parts.Masker.Plan(keyed, new MaskContext(0, new Generator(0)) { Seed = 1 });
        var r = model.Forward(keyed, plan2);
        var (h, w, rgb) = parts.Renderer!.Render(keyed, plan2, r.Reconstruction!, parts.Tokenizer);
        Assert.Equal(h * w * 3, rgb.Length);
    }
}
