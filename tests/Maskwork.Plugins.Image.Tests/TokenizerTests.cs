using Maskwork.Abstractions;
using Maskwork.Backend.Tokenization;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Image.Tests;

public class TokenizerTests
{
    static List<Sample> Images(int count, int channels, int size, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(i =>
            new Sample(Enumerable.Range(0, channels * size * size).Select(_ => (float)rng.NextDouble()).ToArray(), [channels, size, size], i % 3, $"img{i}")).ToList();
    }

    [Theory]
    [InlineData(1, 28, 7)]
    [InlineData(1, 28, 4)]
    [InlineData(3, 32, 8)]
    [InlineData(3, 12, 12)]
    public void Detokenize_inverts_tokenize(int channels, int size, int patch)
    {
        var tokenizer = GridTokenizer.Image(patch, channels, size, channels == 1 ? [0.2f] : [0.2f, 0.3f, 0.4f], [0.5f]);
        var samples = Images(3, channels, size, 1);
        var batch = tokenizer.Tokenize(samples, CPU);
        Assert.Equal(new long[] { 3, (size / patch) * (size / patch), patch * patch * channels }, batch.Tokens.shape);
        Assert.Equal(new GridLayout([size / patch, size / patch]), batch.Layout);
        var back = tokenizer.Detokenize(batch.Tokens, batch);
        var original = tensor(samples.SelectMany(s => s.Values).ToArray(), [3, channels, size, size]);
        Assert.True(back.allclose(original, rtol: 0, atol: 1e-5));
        Assert.Equal(new long[] { 0, 1, 2 }, batch.Labels!.data<long>().ToArray());
    }

    [Fact]
    public void Patches_follow_mae_order_row_major_with_channels_last()
    {
        // A 1×4×4 image with values 0..15 and patch 2: the first token is the top-left 2×2 block.
        var tokenizer = GridTokenizer.Image(2, 1, 4, [0f], [1f]);
        var sample = new Sample(Enumerable.Range(0, 16).Select(v => (float)v).ToArray(), [1, 4, 4], null, "x");
        var tokens = tokenizer.Tokenize([sample], CPU).Tokens;
        Assert.Equal(new float[] { 0, 1, 4, 5 }, tokens[0, 0].data<float>().ToArray());
        Assert.Equal(new float[] { 2, 3, 6, 7 }, tokens[0, 1].data<float>().ToArray());
        Assert.Equal(new float[] { 8, 9, 12, 13 }, tokens[0, 2].data<float>().ToArray());
    }

    [Fact]
    public void Wrong_shape_names_the_sample()
    {
        var tokenizer = GridTokenizer.Image(7, 1, 28, [0f], [1f]);
        var bad = new Sample(new float[3 * 28 * 28], [3, 28, 28], null, "file.png");
        var e = Assert.Throws<InvalidDataFileException>(() => tokenizer.Tokenize([bad], CPU));
        Assert.Equal("file.png", e.File);
    }

    [Fact]
    public void Patch_must_divide_size()
    {
        Assert.Throws<ArgumentException>(() => GridTokenizer.Image(5, 1, 28, [0f], [1f]));
    }
}
