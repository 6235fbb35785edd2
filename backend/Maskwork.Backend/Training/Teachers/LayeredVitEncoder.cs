using Maskwork.Abstractions;
using Maskwork.Backend.Nn;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Maskwork.Backend.Training;

/// <summary>
/// <see cref="VitEncoder"/> that also hands out every block's output, which feature targets need (data2vec's top-K
/// average, DMAE's intermediate layer). Its parameters have <see cref="VitEncoder"/>'s names and shapes, so a
/// checkpoint of a <see cref="VitEncoder"/> run (e.g. image/mae) loads into it as a teacher, and its own checkpoints
/// probe and fine-tune like any encoder.
/// </summary>
public sealed class LayeredVitEncoder : nn.Module, ILayeredEncoder
{
    readonly Dense embed;
    readonly BlockStack transformer;
    readonly PositionTable positions;

    public LayeredVitEncoder(int tokenDim, TransformerShape shape) : base(nameof(LayeredVitEncoder))
    {
        Dim = shape.Dim;
        Depth = shape.Depth;
        Shape = shape;
        TokenDim = tokenDim;
        embed = new Dense(tokenDim, shape.Dim);
        transformer = new BlockStack(shape);
        positions = new PositionTable(shape.Dim);
        RegisterComponents();
    }

    public int Dim { get; }

    /// <summary>Transformer blocks.</summary>
    public int Depth { get; }

    public TransformerShape Shape { get; }

    public int TokenDim { get; }

    public Encoded Encode(TokenBatch tokens, MaskPlan plan) => new(Layers(tokens, plan, keepBlocks: false).Output);

    public Tensor EncodeThrough(TokenBatch tokens, MaskPlan plan, int blocks)
    {
        if (blocks < 0 || blocks > Depth) throw new ArgumentOutOfRangeException(nameof(blocks), blocks, $"an encoder of {Depth} blocks");
        if (blocks == Depth) return Layers(tokens, plan, keepBlocks: false).Output;
        var x = Embed(tokens, plan);
        for (int i = 0; i < blocks; i++) x = transformer.blocks[i].forward(x);
        return x;
    }

    /// <summary>
    /// The final (normed) output [B,Nv,D] of the visible tokens and, with <paramref name="keepBlocks"/>, each block's
    /// output before the final norm (index 0 = the first block).
    /// </summary>
    public (Tensor Output, IReadOnlyList<Tensor> Blocks) Layers(TokenBatch tokens, MaskPlan plan, bool keepBlocks = true)
    {
        var x = Embed(tokens, plan);
        var blocks = new List<Tensor>(keepBlocks ? Depth : 0);
        foreach (var block in transformer.blocks)
        {
            x = block.forward(x);
            if (keepBlocks) blocks.Add(x);
        }
        return (transformer.norm.forward(x), blocks);
    }

    /// <summary>The visible tokens embedded, with their fixed positions.</summary>
    Tensor Embed(TokenBatch tokens, MaskPlan plan) =>
        TokenOps.Gather(embed.forward(tokens.Tokens).Plus(positions.For(tokens.Layout, tokens.Tokens.device)), plan.Visible);

    /// <summary><see cref="Transformer"/>'s parameter layout (<c>blocks.i.*</c>, <c>norm.*</c>) with its blocks reachable.</summary>
    sealed class BlockStack : nn.Module
    {
        internal readonly ModuleList<TransformerBlock> blocks;
        internal readonly Norm norm;

        public BlockStack(TransformerShape shape) : base("Transformer")
        {
            blocks = nn.ModuleList(Enumerable.Range(0, shape.Depth).Select(_ => new TransformerBlock(shape.Dim, shape.Heads, shape.MlpRatio)).ToArray());
            norm = new Norm(shape.Dim);
            RegisterComponents();
        }
    }
}
