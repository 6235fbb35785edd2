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
        x = x.Plus(DropBranch(proj.forward(attn.transpose(1, 2).reshape(b, n, c))));
        x = x.Plus(DropBranch(fc2.forward(nn.functional.gelu(fc1.forward(norm2.forward(x))))));
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Stochastic depth (drop path): while training, the probability that a sample skips each residual branch
    /// of this block (kept branches are scaled by 1 / (1 − p)). 0, the default, leaves the block as it was.
    /// Draws come from <see cref="StochasticDepth.Generator"/> when one is set on the calling thread, else
    /// from torch's global generator (which the trainers seed per step).
    /// </summary>
    public double DropPath { get; set; }

    Tensor DropBranch(Tensor branch)
    {
        if (!training || DropPath <= 0) return branch;
        double keep = 1 - DropPath;
        long[] shape = [branch.shape[0], .. Enumerable.Repeat(1L, (int)branch.dim() - 1)];
        using var k = new HeldScalars();
        var u = StochasticDepth.Generator is { } g ? rand(shape, generator: g, device: branch.device) : rand(shape, device: branch.device);
        var mask = u.lt(k[keep]).to_type(branch.dtype).div(k[keep]);
        return branch.mul(mask);
    }
}

/// <summary>
/// Stochastic depth for every <see cref="TransformerBlock"/> of a model, and the generator its draws come from.
/// </summary>
public static class StochasticDepth
{
    [ThreadStatic] static Generator? current;

    /// <summary>The generator drop-path draws on this thread come from, or null for torch's global one.</summary>
    public static Generator? Generator => current;

    /// <summary>Makes drop-path draws on this thread come from <paramref name="generator"/> until disposed (then the previous one again).</summary>
    public static IDisposable Use(Generator generator)
    {
        var previous = current;
        current = generator;
        return new Restore(previous);
    }

    sealed class Restore(Generator? previous) : IDisposable
    {
        public void Dispose() => current = previous;
    }

    /// <summary>
    /// Sets drop-path rates rising linearly with depth from 0 at the first block to <paramref name="rate"/> at the
    /// last (timm's and MAE's rule), over the <see cref="TransformerBlock"/>s of <paramref name="model"/> in
    /// module order. Returns the number of blocks.
    /// </summary>
    public static int Apply(nn.Module model, double rate)
    {
        if (rate is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(rate), rate, "drop path must be in [0, 1)");
        var blocks = model.modules().OfType<TransformerBlock>().ToList();
        for (int i = 0; i < blocks.Count; i++) blocks[i].DropPath = blocks.Count == 1 ? rate : rate * i / (blocks.Count - 1);
        return blocks.Count;
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

    /// <summary>Blocks in the stack.</summary>
    public int Depth => blocks.Count;

    public override Tensor forward(Tensor x)
    {
        foreach (var block in blocks) x = block.forward(x);
        return norm.forward(x);
    }

    /// <summary>
    /// The residual stream after the first <paramref name="count"/> blocks (0: the input itself); the whole stack,
    /// <see cref="Depth"/>, ends with the final norm as <see cref="forward"/> does.
    /// </summary>
    public Tensor Through(Tensor x, int count)
    {
        if (count < 0 || count > blocks.Count) throw new ArgumentOutOfRangeException(nameof(count), count, $"a stack of {blocks.Count} blocks");
        for (int i = 0; i < count; i++) x = blocks[i].forward(x);
        return count == blocks.Count ? norm.forward(x) : x;
    }
}
