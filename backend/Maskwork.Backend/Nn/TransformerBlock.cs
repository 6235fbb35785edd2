using TorchSharp;
using static TorchSharp.torch;

namespace Maskwork.Backend.Nn;

/// <summary>Pre-norm transformer block: x + Attn(LN(x)), then x + MLP(LN(x)). Attention goes through SDPA.</summary>
public sealed class TransformerBlock : nn.Module<Tensor, Tensor>
{
    readonly Norm norm1, norm2;
    readonly Dense qkv, proj, fc1, fc2;
    readonly int heads;

    public TransformerBlock(int dim, int heads, double mlpRatio = 4.0) : base(nameof(TransformerBlock))
    {
        if (dim % heads != 0) throw new ArgumentException($"width {dim} is not divisible by {heads} heads");
        this.heads = heads;
        norm1 = new Norm(dim);
        qkv = new Dense(dim, 3L * dim);
        proj = new Dense(dim, dim);
        norm2 = new Norm(dim);
        int hidden = (int)(dim * mlpRatio);
        fc1 = new Dense(dim, hidden);
        fc2 = new Dense(hidden, dim);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], n = x.shape[1], c = x.shape[2];
        // unbind, not [0]/[1]/[2]: its backward is one stack, not three full-size zero tensors summed.
        var qkvOut = qkv.forward(norm1.forward(x)).view(b, n, 3, heads, c / heads).permute(2, 0, 3, 1, 4).unbind(0);
        var attn = Attention.Compute(qkvOut[0], qkvOut[1], qkvOut[2]);
        x = x.Plus(proj.forward(attn.transpose(1, 2).reshape(b, n, c)));
        x = x.Plus(fc2.forward(nn.functional.gelu(fc1.forward(norm2.forward(x)))));
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>A stack of <see cref="TransformerBlock"/>s with a final norm.</summary>
public sealed class Transformer : nn.Module<Tensor, Tensor>
{
    readonly TorchSharp.Modules.ModuleList<TransformerBlock> blocks;
    readonly Norm norm;

    public Transformer(int dim, int depth, int heads, double mlpRatio = 4.0) : base(nameof(Transformer))
    {
        blocks = nn.ModuleList(Enumerable.Range(0, depth).Select(_ => new TransformerBlock(dim, heads, mlpRatio)).ToArray());
        norm = new Norm(dim);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        foreach (var block in blocks) x = block.forward(x);
        return norm.forward(x);
    }
}
