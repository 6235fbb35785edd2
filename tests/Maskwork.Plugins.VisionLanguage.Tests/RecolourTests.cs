using Maskwork.Abstractions;
using Maskwork.Plugins.VisionLanguage.Readers;
using Maskwork.Plugins.VisionLanguage.Recipes;
using static TorchSharp.torch;

namespace Maskwork.Plugins.VisionLanguage.Tests;

public class RecolourTests
{
    static MultiPartSample Stamp(int index, int epoch) => ((MultiPartSample)Models.Samples[index]) with { Index = index, Epoch = epoch };

    static (float[] Rgb, float[] Alpha) Pixels(MultiPartSample s) => (s.Parts["image"].Values, s.Parts["alpha"].Values);

    [Fact]
    public void RecolouringMovesOnlyTheBackgroundUnderTheSilhouetteToAColourKeyedByEpochAndIndex()
    {
        for (int index = 0; index < 4; index++)
        {
            var before = Stamp(index, 0);
            var (rgb, alpha) = Pixels(before);
            int n = alpha.Length, clear = Array.FindIndex(alpha, a => a <= 0);
            Assert.True(clear >= 0, $"{before.Source}: a letterboxed stamp shows some background");
            var after = BackgroundRecolour.Apply(before, 7, 0);
            var (moved, alphaAfter) = Pixels(after);
            Assert.Equal(alpha, alphaAfter);
            Assert.Equal((before.Index, before.Epoch, before.Split, before.Label), (after.Index, after.Epoch, after.Split, after.Label));
            var colour = Enumerable.Range(0, 3).Select(c => moved[c * n + clear]).ToArray();
            Assert.True(Enumerable.Range(0, 3).Sum(c => Math.Abs(colour[c] - rgb[c * n + clear])) > 1e-3, "the background colour changed");
            for (int c = 0; c < 3; c++)
                for (int i = 0; i < n; i++)
                {
                    // composite = premultiplied + (1 − a)·background, so the change is (1 − a)·(new − old): none under opaque pixels.
                    float expected = Math.Clamp(rgb[c * n + i] + (1 - alpha[i]) * (colour[c] - rgb[c * n + clear]), 0f, 1f);
                    Assert.True(Math.Abs(moved[c * n + i] - expected) < 1e-5, $"pixel {i} channel {c}: {moved[c * n + i]} vs {expected}");
                }
            // The same key draws the same colour; the next epoch another.
            Assert.Equal(moved, Pixels(BackgroundRecolour.Apply(Stamp(index, 0), 7, 5)).Rgb);
            Assert.NotEqual(moved, Pixels(BackgroundRecolour.Apply(Stamp(index, 1), 7, 0)).Rgb);
        }
        // No background showing (alpha nowhere 0): nothing to recolour.
        var s = Stamp(0, 0);
        var opaque = new MultiPartSample(new Dictionary<string, Sample>(s.Parts) { ["alpha"] = s.Parts["alpha"] with { Values = [.. s.Parts["alpha"].Values.Select(_ => 1f)] } }, s.Primary, s.Label, s.Source);
        Assert.Same(opaque, BackgroundRecolour.Apply(opaque, 7, 0));
    }

    [Fact]
    public void MultiMaeRecoloursWhileTrainingOnlyAndNotWhenAskedNotTo()
    {
        using var scope = NewDisposeScope();
        var batch = Enumerable.Range(0, 4).Select(i => (Sample)Stamp(i, 3)).ToList();
        var options = new MultiMaeOptions { Size = 16, Patch = 4, TextLength = 8, Budget = 10, EncoderDim = 32, EncoderDepth = 1, EncoderHeads = 2, AdapterDim = 32, AdapterDepth = 1, AdapterHeads = 2 };
        manual_seed(0);
        var parts = new MultiMaeRecipe().Build(options, Models.Context());
        manual_seed(0);
        var plain = new MultiMaeRecipe().Build(options with { Recolour = false }, Models.Context());
        var reader = plain.Tokenizer.Tokenize(batch, CPU).Tokens;
        Assert.False(parts.Tokenizer.Tokenize(batch, CPU).Tokens.eq(reader).all().item<bool>(), "training tokens are recoloured");
        ((nn.Module)parts.Encoder).eval();
        Assert.True(parts.Tokenizer.Tokenize(batch, CPU).Tokens.eq(reader).all().item<bool>(), "evaluation sees the reader's colours");
        ((nn.Module)plain.Encoder).train();
        Assert.True(plain.Tokenizer.Tokenize(batch, CPU).Tokens.eq(reader).all().item<bool>(), "model.recolour=false never recolours");
        manual_seed(0);
        var flipped = new MultiMaeRecipe().Build(options with { Recolour = false, Flip = true }, Models.Context());
        var mirrored = flipped.Tokenizer.Tokenize(batch, CPU).Tokens;
        var expected = new MirrorParts(Models.Context().Seed).Apply(batch, 0);
        Assert.True(mirrored.eq(plain.Tokenizer.Tokenize(expected, CPU).Tokens).all().item<bool>(), "model.flip mirrors as MirrorParts does");
        Assert.False(mirrored.eq(reader).all().item<bool>(), "some of the four samples are mirrored");
    }

    [Fact]
    public void MirroringFlipsRgbAndAlphaTogetherForAboutHalfTheSamplesKeyedByEpochAndIndex()
    {
        var s = Stamp(0, 0);
        var mirrored = MirrorParts.Mirror(s);
        foreach (var name in new[] { "image", "alpha" })
        {
            var shape = s.Parts[name].Shape;
            int c = shape[0], h = shape[1], w = shape[2];
            var (a, b) = (s.Parts[name].Values, mirrored.Parts[name].Values);
            for (int ch = 0; ch < c; ch++)
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                        Assert.Equal(a[(ch * h + y) * w + x], b[(ch * h + y) * w + (w - 1 - x)]);
            Assert.NotEqual(a, b); // a stamp is not symmetric to the pixel
        }
        Assert.Equal(s.Parts["text"].Values, mirrored.Parts["text"].Values);
        Assert.Equal((s.Index, s.Epoch, s.Split, s.Label, s.Source), (mirrored.Index, mirrored.Epoch, mirrored.Split, mirrored.Label, mirrored.Source));

        // Over many epochs of the same stamp: about half flipped, the same epoch always the same way.
        var augment = new MirrorParts(7);
        int flipped = 0, epochs = 400;
        for (int e = 0; e < epochs; e++)
        {
            var once = ((MultiPartSample)augment.Apply([Stamp(1, e)], 0)[0]).Parts["alpha"].Values;
            var again = ((MultiPartSample)augment.Apply([Stamp(1, e)], 9)[0]).Parts["alpha"].Values;
            Assert.Equal(once, again);
            if (!once.SequenceEqual(Stamp(1, e).Parts["alpha"].Values)) flipped++;
        }
        Assert.InRange(flipped, epochs / 2 - 40, epochs / 2 + 40); // binomial(400, 0.5): ±4 s.d.
    }
}
