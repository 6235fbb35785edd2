using Maskwork.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace Maskwork.Backend.Nn;

/// <summary>Width, depth and heads of a transformer.</summary>
public sealed record TransformerShape(int Dim, int Depth, int Heads, double MlpRatio = 4.0);

/// <summary>
/// The default encoder for grid and sequence layouts (MAE): linear token embedding, fixed sin-cos
/// positions, a pre-norm transformer over the visible tokens only.
/// </summary>
public sealed class VitEncoder : nn.Module, IEncoder
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

    public Encoded Encode(TokenBatch tokens, MaskPlan plan)
    {
        var x = embed.forward(tokens.Tokens).Plus(positions.For(tokens.Layout, tokens.Tokens.device));
        x = TokenOps.Gather(x, plan.Visible);
        return new Encoded(transformer.forward(x));
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
