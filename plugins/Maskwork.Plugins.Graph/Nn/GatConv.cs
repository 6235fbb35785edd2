using Maskwork.Backend.Devices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Maskwork.Plugins.Graph.Nn;

/// <summary>Options of one GAT layer (GraphMAE's GATConv).</summary>
public sealed record GatLayerOptions(
    double FeatureDropout = 0,
    double AttentionDropout = 0,
    double NegativeSlope = 0.2,
    bool Residual = false,
    string Activation = "none",
    string Norm = "none",
    bool ConcatHeads = true);

/// <summary>
/// One graph-attention layer (Veličković et al. 2018) as GraphMAE writes it: input dropout, a shared
/// linear map to H heads of width F, additive attention e(u→v) = LeakyReLU(a_lᵀ z_u + a_rᵀ z_v), softmax
/// over each node's incoming edges, attention dropout, weighted sum of z_u, bias, optional residual,
/// heads concatenated (or averaged), optional norm, optional activation. Xavier-normal (gain √2) init.
/// Input [N, Fin] and edge index [2, E] (sources, targets) → [N, H·F] (or [N, F] when averaging).
/// </summary>
public sealed class GatConv : nn.Module<Tensor, Tensor, Tensor>
{
    readonly Parameter weight;
    readonly Parameter attn_l;
    readonly Parameter attn_r;
    readonly Parameter bias;
    readonly Parameter? res_weight;
    readonly nn.Module<Tensor, Tensor>? norm;
    readonly nn.Module<Tensor, Tensor>? activation;
    readonly GatLayerOptions options;
    readonly bool identityResidual;

    public GatConv(long inDim, long outDim, int heads, GatLayerOptions options) : base(nameof(GatConv))
    {
        if (heads <= 0 || outDim <= 0 || inDim <= 0) throw new ArgumentException($"GAT layer needs positive sizes, got in {inDim}, out {outDim}, heads {heads}");
        InDim = inDim; OutDim = outDim; Heads = heads;
        this.options = options;
        double gain = Math.Sqrt(2.0);
        weight = nn.Parameter(empty(heads * outDim, inDim));
        attn_l = nn.Parameter(empty(1, heads, outDim));
        attn_r = nn.Parameter(empty(1, heads, outDim));
        bias = nn.Parameter(zeros(heads * outDim));
        using (no_grad())
        {
            nn.init.xavier_normal_(weight, gain);
            nn.init.xavier_normal_(attn_l, gain);
            nn.init.xavier_normal_(attn_r, gain);
        }
        if (options.Residual)
        {
            identityResidual = inDim == heads * outDim;
            if (!identityResidual)
            {
                res_weight = nn.Parameter(empty(heads * outDim, inDim));
                using (no_grad()) nn.init.xavier_normal_(res_weight, gain);
            }
        }
        long width = options.ConcatHeads ? heads * outDim : outDim;
        norm = Layers.Norm(options.Norm, width);
        activation = Layers.Activation(options.Activation);
        RegisterComponents();
    }

    public long InDim { get; }
    public long OutDim { get; }
    public int Heads { get; }
    public long Width => options.ConcatHeads ? Heads * OutDim : OutDim;

    public override Tensor forward(Tensor x, Tensor edgeIndex)
    {
        var h = F.dropout(x, options.FeatureDropout, training);
        return Attend(Project(h, weight), edgeIndex, options.Residual ? h : null);
    }

    /// <summary>Dropout rate on the layer's input.</summary>
    public double FeatureDropout => options.FeatureDropout;

    /// <summary>Whether the layer adds a residual of its input (then <see cref="Attend"/> needs that input).</summary>
    public bool Residual => options.Residual;

    /// <summary>The projection weight [H·F, Fin], for callers that project their input themselves (sparse inputs).</summary>
    public Tensor Weight => weight;

    /// <summary>
    /// The layer after its projection: <paramref name="projected"/> = dropout(x) Wᵀ [N, H·F]; <paramref name="input"/> is
    /// dropout(x), needed only for the residual.
    /// </summary>
    public Tensor Attend(Tensor projected, Tensor edgeIndex, Tensor? input = null)
    {
        long n = projected.shape[0];
        var src = edgeIndex[0];
        var dst = edgeIndex[1];
        var z = projected.view(n, Heads, OutDim);
        var el = (z * attn_l).sum(-1);
        var er = (z * attn_r).sum(-1);
        var scores = F.leaky_relu(el.index_select(0, src) + er.index_select(0, dst), options.NegativeSlope);
        var alpha = F.dropout(MessagePassing.EdgeSoftmax(scores, dst, n), options.AttentionDropout, training);
        var rst = MessagePassing.Aggregate(z, alpha, src, dst, n) + bias.view(1, Heads, OutDim);
        if (options.Residual)
        {
            if (input is null) throw new ArgumentException("a residual GAT layer needs its (dropped-out) input");
            rst = rst + (identityResidual ? input : Project(input, res_weight!)).view(n, Heads, OutDim);
        }
        return Finish(options.ConcatHeads ? rst.flatten(1) : rst.mean([1L]));
    }

    /// <summary>
    /// The layer's output for <paramref name="targets"/> [T] only, in that order: [T, width]. For one head
    /// without residual or batch norm it aggregates the (narrower) inputs first and projects only the targets,
    /// Σ α·W h = W Σ α·h, which is exact and saves most of the work of a wide output layer (GraphMAE's decoder,
    /// whose loss reads only the masked nodes). Otherwise it runs the whole layer and selects.
    /// </summary>
    public Tensor Forward(Tensor x, Tensor edgeIndex, Tensor targets)
    {
        if (Heads != 1 || options.Residual || norm is BatchNorm1d) return forward(x, edgeIndex).index_select(0, targets);
        long n = x.shape[0], t = targets.shape[0];
        var h = F.dropout(x, options.FeatureDropout, training);
        // a_lᵀ (W h) = (Wᵀ a_l)ᵀ h: attention logits without projecting every node.
        var wl = attn_l.view(1, OutDim).matmul(weight).view(-1);
        var wr = attn_r.view(1, OutDim).matmul(weight).view(-1);
        var position = full(n, MessagePassing.MinusOne, dtype: ScalarType.Int64, device: x.device)
            .index_put_(arange(t, dtype: ScalarType.Int64, device: x.device), targets);
        var edges = position.index_select(0, edgeIndex[1]).ge(MessagePassing.Zero).nonzero().view(-1);
        var src = edgeIndex[0].index_select(0, edges);
        var dst = position.index_select(0, edgeIndex[1].index_select(0, edges));
        var hs = h.index_select(0, src);
        var scores = F.leaky_relu(hs.matmul(wl) + h.index_select(0, targets).matmul(wr).index_select(0, dst), options.NegativeSlope).unsqueeze(1);
        var alpha = F.dropout(MessagePassing.EdgeSoftmax(scores, dst, t), options.AttentionDropout, training);
        var aggregated = zeros(t, InDim, dtype: hs.dtype, device: x.device).index_add(0, dst, hs * alpha, MessagePassing.One);
        return Finish(Project(aggregated, weight) + bias);
    }

    Tensor Finish(Tensor rst)
    {
        if (norm is not null) rst = norm.forward(rst);
        if (activation is not null) rst = activation.forward(rst);
        return rst;
    }

    /// <summary>x Wᵀ in the thread's compute precision (bf16 when asked), back to fp32 for attention and norms.</summary>
    static Tensor Project(Tensor x, Tensor w)
    {
        var dt = Precision.Compute;
        if (dt == ScalarType.Float32 && x.dtype == ScalarType.Float32) return F.linear(x, w);
        return F.linear(x.to_type(dt), w.to_type(dt)).to_type(ScalarType.Float32);
    }
}

/// <summary>Activation and norm layers by name, as GraphMAE's create_activation / create_norm.</summary>
public static class Layers
{
    public static nn.Module<Tensor, Tensor>? Activation(string name) => name.ToLowerInvariant() switch
    {
        "prelu" => nn.PReLU(1, 0.25),
        "relu" => nn.ReLU(),
        "elu" => nn.ELU(),
        "gelu" => nn.GELU(),
        "none" or "" => null,
        _ => throw new ArgumentException($"unknown activation '{name}': prelu, relu, elu, gelu or none"),
    };

    public static nn.Module<Tensor, Tensor>? Norm(string name, long width) => name.ToLowerInvariant() switch
    {
        "layernorm" => nn.LayerNorm(width),
        "batchnorm" => nn.BatchNorm1d(width),
        "none" or "" => null,
        _ => throw new ArgumentException($"unknown norm '{name}': layernorm, batchnorm or none"),
    };
}
