using Maskwork.Backend.Nn;
using static TorchSharp.torch;

namespace Maskwork.Backend.Tests;

public class NnTests
{
    [Fact]
    public void SinCos_1d_matches_the_formula()
    {
        var e = PositionalEmbedding.SinCos1D(tensor(new float[] { 0, 3 }), 4);
        // omega = [1, 1/100]; row = [sin(p), sin(p/100), cos(p), cos(p/100)]
        float[] expected = [0, 0, 1, 1, MathF.Sin(3), MathF.Sin(0.03f), MathF.Cos(3), MathF.Cos(0.03f)];
        Assert.True(e.reshape(-1).allclose(tensor(expected), atol: 1e-6));
    }

    [Fact]
    public void Grid_embedding_splits_width_across_axes()
    {
        var e = PositionalEmbedding.Grid([2, 3], 8);
        Assert.Equal(new long[] { 6, 8 }, e.shape);
        // Tokens in the same row share the first half (row axis), tokens in the same column the second.
        Assert.True(e[0, ..4].allclose(e[2, ..4]));
        Assert.True(e[0, 4..].allclose(e[3, 4..]));
        Assert.False(e[0].allclose(e[4]));
        var e3 = PositionalEmbedding.Grid([2, 2, 2], 14); // 14/3 → 4 per axis, 2 zero columns
        Assert.Equal(new long[] { 8, 14 }, e3.shape);
        Assert.Equal(0, e3[.., 12..].abs().sum().item<float>());
    }

    [Fact]
    public void Unshuffle_inverts_the_split()
    {
        var x = arange(2 * 5 * 3, dtype: ScalarType.Float32).reshape(2, 5, 3);
        var visible = tensor(new long[] { 3, 0, 1, 4 }).reshape(2, 2);
        var masked = tensor(new long[] { 1, 2, 4, 0, 2, 3 }).reshape(2, 3);
        var restored = TokenOps.Unshuffle(TokenOps.Gather(x, visible), TokenOps.Gather(x, masked), visible, masked);
        Assert.True(TensorAssert.Same(restored, x));
    }

    [Fact]
    public void Transformer_block_keeps_shape_and_is_finite_in_bf16()
    {
        manual_seed(0);
        var block = new TransformerBlock(16, 4);
        var x = randn(2, 5, 16);
        var y32 = block.forward(x);
        Tensor y16;
        using (Maskwork.Backend.Devices.Precision.Use(ScalarType.BFloat16)) y16 = block.forward(x);
        Assert.Equal(x.shape, y32.shape);
        Assert.Equal(ScalarType.Float32, y16.dtype);
        Assert.True(y16.allclose(y32, rtol: 0.05, atol: 0.05));
    }
}
