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
        var parts = new M3aeRecipe().Build(Tiny with { TextWeight = 1.0 }, Models.Context());
        using var model = new MaskedModel(parts);
        Models.LossFalls(parts, model, (tokens, plan, result) => Assert.Equal(4, plan.Parts!["image"].Visible.shape[1])); // 16 patches at 0.75
        using var _ = NewDisposeScope();
        Models.EncodesTheImageAloneAndRenders(parts, model, parts.Tokenizer.Tokenize(Models.Samples.Take(2).ToList(), CPU));
    }
}
