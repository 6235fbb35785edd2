using Maskwork.Abstractions;
using static TorchSharp.torch;

namespace Maskwork.Backend.Nn;

/// <summary>Fixed sin-cos positional embeddings (MAE): 1-D, and 2-D/3-D grids by splitting the width across axes.</summary>
public static class PositionalEmbedding
{
    /// <summary>[positions.Length, dim] sin-cos embedding of scalar positions (half sin, half cos).</summary>
    public static Tensor SinCos1D(Tensor positions, int dim)
    {
        if (dim % 2 != 0) throw new ArgumentException("sin-cos width must be even");
        var omega = arange(dim / 2, dtype: ScalarType.Float64) / (dim / 2.0);
        omega = 1.0 / pow(10000.0, omega);
        var angles = positions.to_type(ScalarType.Float64).reshape(-1, 1) * omega.reshape(1, -1);
        return cat([sin(angles), cos(angles)], 1).to_type(ScalarType.Float32);
    }

    /// <summary>
    /// [N, dim] embedding for a row-major grid of any rank: each axis gets an even share of the width
    /// (the remainder is zero). For 2-D this is MAE's get_2d_sincos_pos_embed.
    /// </summary>
    public static Tensor Grid(int[] dims, int dim)
    {
        int axes = dims.Length;
        int per = dim / axes / 2 * 2;
        if (per == 0) throw new ArgumentException($"width {dim} is too small for a {axes}-D positional embedding");
        var coords = meshgrid(dims.Select(d => arange(d, dtype: ScalarType.Float32)).ToArray(), indexing: "ij");
        var parts = coords.Select(c => SinCos1D(c.reshape(-1), per)).ToList();
        int used = per * axes;
        if (used < dim) parts.Add(zeros(parts[0].shape[0], dim - used));
        return cat(parts, 1);
    }

    /// <summary>Embedding for a token layout: grids and sequences get sin-cos tables.</summary>
    public static Tensor For(TokenLayout layout, int dim) => layout switch
    {
        GridLayout g => Grid(g.Dims, dim),
        SequenceLayout s => SinCos1D(arange(s.Length), dim),
        _ => throw new NotSupportedException($"no fixed positional table for {layout}; use a learned position MLP"),
    };
}

/// <summary>
/// Learned positional embeddings sized from a layout: a [1, N, dim] parameter, initialised from the layout's
/// sin-cos table (so training starts where the fixed table is). Its name holds "pos", so it is not weight-decayed.
/// </summary>
public sealed class LearnedPositions : TorchSharp.torch.nn.Module<Tensor, Tensor>
{
    readonly TorchSharp.Modules.Parameter pos_embed;

    public LearnedPositions(TokenLayout layout, int dim) : base(nameof(LearnedPositions))
    {
        Layout = layout;
        pos_embed = TorchSharp.torch.nn.Parameter(PositionalEmbedding.For(layout, dim).unsqueeze(0));
        RegisterComponents();
    }

    /// <summary>The layout the table was sized for.</summary>
    public TokenLayout Layout { get; }

    /// <summary>Adds the positions to tokens [B, N, dim].</summary>
    public override Tensor forward(Tensor tokens) => tokens.add(pos_embed.to_type(tokens.dtype), Held.One);
}
