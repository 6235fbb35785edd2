using Maskwork.Abstractions;
using Maskwork.Backend.Nn;
using Maskwork.Backend.Tokenization;
using static TorchSharp.torch;

namespace Maskwork.Backend.Tests;

public class GridTokenizerTests
{
    static List<Sample> Samples(int count, int[] shape, int seed)
    {
        var rng = new Random(seed);
        int per = shape.Aggregate(1, (a, b) => a * b);
        return Enumerable.Range(0, count).Select(i => new Sample(Enumerable.Range(0, per).Select(_ => (float)rng.NextDouble()).ToArray(), shape, i, $"s{i}")).ToList();
    }

    [Theory]
    [InlineData(new[] { 12 }, new[] { 4 }, 3, null)]
    [InlineData(new[] { 10, 15 }, new[] { 5, 3 }, 5, null)]
    [InlineData(new[] { 4, 6, 9 }, new[] { 2, 3, 3 }, 3, "t,y,x")]
    [InlineData(new[] { 6, 4, 4 }, new[] { 3, 2, 1 }, 1, "z,y,x")]
    public void Detokenize_inverts_tokenize_for_rank_1_2_3_and_odd_channels(int[] size, int[] patch, int channels, string? axes)
    {
        var mean = Enumerable.Range(0, channels).Select(c => 0.1f * c).ToArray();
        var tokenizer = new GridTokenizer(size, patch, channels, mean, [0.5f], axes);
        var samples = Samples(3, [channels, .. size], 2);
        var batch = tokenizer.Tokenize(samples, CPU);
        var grid = size.Zip(patch, (s, p) => s / p).ToArray();
        Assert.Equal(new long[] { 3, grid.Aggregate(1, (a, b) => a * b), patch.Aggregate(1, (a, b) => a * b) * channels }, batch.Tokens.shape);
        Assert.Equal(new GridLayout(grid) { Axes = axes }, batch.Layout);
        var back = tokenizer.Detokenize(batch.Tokens, batch);
        var original = tensor(samples.SelectMany(s => s.Values).ToArray(), [3, channels, .. size.Select(s => (long)s)]);
        Assert.True(back.allclose(original, rtol: 0, atol: 1e-6));
    }

    [Fact]
    public void Tokens_are_patches_row_major_with_channels_last()
    {
        // 2 channels, 1×4 series, patch 2: token 0 = steps 0,1 as (p, C): c0[0], c1[0], c0[1], c1[1].
        var tokenizer = new GridTokenizer([4], [2], 2, [0f], [1f]);
        var tokens = tokenizer.Tokenize([new Sample([0, 1, 2, 3, 10, 11, 12, 13], [2, 4], null, "x")], CPU).Tokens;
        Assert.Equal(new float[] { 0, 10, 1, 11 }, tokens[0, 0].data<float>().ToArray());
        Assert.Equal(new float[] { 2, 12, 3, 13 }, tokens[0, 1].data<float>().ToArray());
    }

    [Fact]
    public void Bad_shapes_and_sizes_are_refused()
    {
        Assert.Throws<ArgumentException>(() => new GridTokenizer([28, 28], [5, 7], 1, [0f], [1f]));
        Assert.Throws<ArgumentException>(() => new GridTokenizer([2, 2, 2, 2], [1, 1, 1, 1], 1, [0f], [1f]));
        Assert.Throws<ArgumentException>(() => new GridTokenizer([4, 4], [2, 2], 1, [0f], [1f], axes: "t,y,x"));
        var tokenizer = new GridTokenizer([4, 4], [2, 2], 1, [0f], [1f]);
        var e = Assert.Throws<InvalidDataFileException>(() => tokenizer.Tokenize([new Sample(new float[32], [2, 4, 4], null, "bad.png")], CPU));
        Assert.Equal("bad.png", e.File);
    }

    [Fact]
    public void Patch_norm_helpers_standardise_each_token_or_each_channel()
    {
        var tokens = rand(2, 5, 12, generator: new Generator(3)) * 4 + 1;
        var (normed, mean, std) = PatchNorm.NormPix(tokens);
        Assert.True(normed.mean([-1L]).abs().max().item<float>() < 1e-5);
        Assert.True((normed * std + mean).allclose(tokens, atol: 1e-5));
        var perChannel = PatchNorm.PerChannel(tokens, 3).reshape(2, 5, 4, 3);
        Assert.True(perChannel.mean([-2L]).abs().max().item<float>() < 1e-5);
        Assert.True((perChannel.var(-2L, unbiased: true) - 1).abs().max().item<float>() < 1e-3);
    }

    [Fact]
    public void Positions_are_sized_from_the_grid_fixed_or_learned()
    {
        foreach (var grid in new[] { new GridLayout([9]), new GridLayout([3, 4]), new GridLayout([2, 3, 4]) { Axes = "t,y,x" } })
        {
            var table = PositionalEmbedding.For(grid, 48);
            Assert.Equal(new long[] { grid.Count, 48 }, table.shape);
            Assert.Equal(grid.Count, table.unique(dim: 0).output.shape[0]); // every position distinct
            var learned = new LearnedPositions(grid, 48);
            Assert.Single(learned.parameters());
            Assert.True(learned.forward(zeros(1, grid.Count, 48)).squeeze(0).allclose(table));
        }
    }
}
