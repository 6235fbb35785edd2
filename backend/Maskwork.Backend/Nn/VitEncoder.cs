using Maskwork.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace Maskwork.Backend.Nn;

/// <summary>Width, depth and heads of a transformer.</summary>
public sealed record TransformerShape(int Dim, int Depth, int Heads, double MlpRatio = 4.0);

/// <summary>
/// An encoder whose inner layers can be read out: a probe of block k instead of the last (MAE's and VideoMAE's
/// linear probes read the last; with a shallow decoder the last blocks still do pixel work).
/// </summary>
public interface ILayeredEncoder : IEncoder
{
    /// <summary>Transformer blocks.</summary>
    int Depth { get; }

    /// <summary>
    /// The visible tokens [B,Nv,D] after the embedding and the first <paramref name="blocks"/> blocks (0: the
    /// embedding with positions); <see cref="Depth"/> gives <see cref="IEncoder.Encode"/>'s output, final norm included.
    /// </summary>
    Tensor EncodeThrough(TokenBatch tokens, MaskPlan plan, int blocks);
}

/// <summary>
/// The default encoder for grid and sequence layouts (MAE): linear token embedding, fixed sin-cos
/// positions, a pre-norm transformer over the visible tokens only.
/// </summary>
public sealed class VitEncoder : nn.Module, ILayeredEncoder
{
    readonly Dense embed;
    readonly Transformer transformer;
    readonly PositionTable positions;

    public VitEncoder(int tokenDim, TransformerShape shape) : base(nameof(VitEncoder))
    {
        Dim = shape.Dim;
        embed = new Dense(tokenDim, shape.Dim);
        transformer = new Transformer(shape.Dim, shape.Depth, shape.Heads, shape.MlpRatio);
        positions = new PositionTable(shape.Dim);
        RegisterComponents();
    }

    public int Dim { get; }

    public int Depth => transformer.Depth;

    public Encoded Encode(TokenBatch tokens, MaskPlan plan) => new(transformer.forward(Embed(tokens, plan)));

    public Tensor EncodeThrough(TokenBatch tokens, MaskPlan plan, int blocks) => transformer.Through(Embed(tokens, plan), blocks);

    Tensor Embed(TokenBatch tokens, MaskPlan plan)
    {
        var x = embed.forward(tokens.Tokens).Plus(positions.For(tokens.Layout, tokens.Tokens.device));
        return TokenOps.Gather(x, plan.Visible);
    }
}

/// <summary>Caches fixed positional tables per layout and device (not parameters, not saved).</summary>
public sealed class PositionTable(int dim)
{
    readonly Dictionary<(TokenLayout, DeviceType), Tensor> cache = [];

    public Tensor For(TokenLayout layout, torch.Device device)
    {
        lock (cache)
        {
            if (!cache.TryGetValue((layout, device.type), out var table))
            {
                using (NewDisposeScope()) table = PositionalEmbedding.For(layout, dim).to(device).unsqueeze(0).MoveToOuterDisposeScope();
                table.DetachFromDisposeScope();
                cache[(layout, device.type)] = table;
            }
            return table;
        }
    }
}
