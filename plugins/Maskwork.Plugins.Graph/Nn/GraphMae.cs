using Maskwork.Abstractions;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Maskwork.Plugins.Graph.Nn;

/// <summary>A stack of GAT layers; every layer but the input one reads the previous layer's concatenated heads.</summary>
public sealed class Gat : nn.Module<Tensor, Tensor, Tensor>
{
    readonly ModuleList<GatConv> layers = new();

    /// <param name="inDim">Input width.</param>
    /// <param name="headDim">Width of one head.</param>
    /// <param name="heads">Heads per layer.</param>
    /// <param name="depth">Layers.</param>
    /// <param name="options">Layer options, the same for every layer.</param>
    public Gat(long inDim, long headDim, int heads, int depth, GatLayerOptions options) : base(nameof(Gat))
    {
        if (depth <= 0) throw new ArgumentException($"a GAT needs at least one layer, got {depth}");
        for (int i = 0; i < depth; i++) layers.Add(new GatConv(i == 0 ? inDim : layers[i - 1].Width, headDim, heads, options));
        RegisterComponents();
    }

    public long Width => layers[^1].Width;

    public GatConv First => layers[0];

    public override Tensor forward(Tensor x, Tensor edgeIndex) => Continue(First.forward(x, edgeIndex), edgeIndex);

    /// <summary>Runs the layers after the first on the first layer's output.</summary>
    public Tensor Continue(Tensor x, Tensor edgeIndex)
    {
        for (int i = 1; i < layers.Count; i++) x = layers[i].forward(x, edgeIndex);
        return x;
    }
}

/// <summary>
/// GraphMAE's encoder (Hou et al., KDD 2022): corrupts the masked nodes' features, then runs a GAT over the
/// whole graph. Of the nodes in <see cref="MaskPlan.Masked"/>, a random ⌊(1−r)·m⌋ get their features replaced by
/// the learnable [MASK] token, a random ⌊r·m⌋ get the features of random nodes (r = replace rate) and any
/// remainder keep theirs, exactly as GraphMAE's encoding_mask_noise. Those random choices come from torch's
/// global generator, which the trainer seeds per step (like dropout); which nodes are masked comes from the masker.
/// <para>Unlike a ViT encoder, masked nodes still pass messages, so <see cref="Encoded.Latent"/> [1, N, D] holds
/// <b>every</b> node in node order, not only the visible ones; <see cref="GraphMaeObjective"/> relies on that. With
/// <see cref="MaskPlan.None"/> (probes, embeddings) that is the usual visible-token order.</para>
/// </summary>
public sealed class GraphMaeEncoder : nn.Module, IEncoder
{
    readonly Parameter mask_token;
    readonly Gat gat;

    public GraphMaeEncoder(int inDim, int hidden, int heads, int depth, double replaceRate, GatLayerOptions layer) : base(nameof(GraphMaeEncoder))
    {
        if (hidden % heads != 0) throw new ArgumentException($"hidden width {hidden} is not a multiple of {heads} heads");
        if (replaceRate is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(replaceRate), replaceRate, "replace rate must be in [0, 1)");
        ReplaceRate = replaceRate;
        mask_token = nn.Parameter(zeros(1, inDim));
        gat = new Gat(inDim, hidden / heads, heads, depth, layer);
        Dim = (int)gat.Width;
        RegisterComponents();
    }

    public int Dim { get; }
    public double ReplaceRate { get; }
    public Tensor MaskToken => mask_token;

    /// <summary>Inputs at most this dense (share of non-zeros) take the sparse first-layer path.</summary>
    public const double SparseDensity = 0.1;

    public Encoded Encode(TokenBatch tokens, MaskPlan plan)
    {
        if (tokens.BatchSize != 1) throw new ArgumentException($"graph token batches are one disjoint union of graphs, got batch {tokens.BatchSize}");
        var x = tokens.Tokens[0];
        var edges = tokens.Extras[GraphTokenizer.EdgeIndexKey];
        var masked = plan.MaskedCount > 0 ? plan.Masked.reshape(-1) : null;
        if (!gat.First.Residual && x.count_nonzero().item<long>() <= SparseDensity * x.numel())
            return new Encoded(gat.Continue(gat.First.Attend(ProjectSparse(x, masked), edges), edges).unsqueeze(0));
        if (masked is not null) x = Corrupt(x, masked);
        return new Encoded(gat.forward(x, edges).unsqueeze(0));
    }

    /// <summary>
    /// The first layer's projection dropout(corrupt(x)) Wᵀ for sparse features (bag-of-words): the corrupted features
    /// without the [MASK] token stay sparse (dropout on their non-zeros is dropout on the whole matrix), and the
    /// token rows, dense, are projected apart and added. Equal to the dense path, at a fraction of its cost.
    /// </summary>
    public Tensor ProjectSparse(Tensor x, Tensor? masked)
    {
        var first = gat.First;
        double p = first.FeatureDropout;
        var features = x.detach();
        Tensor? tokenNodes = null;
        if (masked is not null)
        {
            var (tokens, noiseNodes, sources) = Replacement(masked, x.shape[0]);
            tokenNodes = tokens;
            features = features.clone().index_copy_(0, tokenNodes, zeros(tokenNodes.shape[0], x.shape[1], dtype: x.dtype, device: x.device));
            if (noiseNodes.shape[0] > 0) features.index_copy_(0, noiseNodes, x.detach().index_select(0, sources));
        }
        long width = features.shape[1];
        var flat = features.reshape(-1);
        var position = flat.nonzero().view(-1);
        var values = F.dropout(flat.index_select(0, position), p, training);
        using var w = width.ToScalar();
        var sparse = sparse_coo_tensor(stack([position.div(w, rounding_mode: RoundingMode.floor), position.remainder(w)]), values, features.shape);
        var projected = sparse.mm(first.Weight.t());
        if (tokenNodes is null || tokenNodes.shape[0] == 0) return projected;
        var tokenRows = F.dropout(mask_token.expand(tokenNodes.shape[0], -1), p, training);
        return projected.index_add(0, tokenNodes, F.linear(tokenRows, first.Weight), MessagePassing.One);
    }

    /// <summary>Which masked nodes get the [MASK] token and which get random nodes' features (the rest keep theirs).</summary>
    public (Tensor TokenNodes, Tensor NoiseNodes, Tensor NoiseSources) Replacement(Tensor masked, long nodes)
    {
        long m = masked.shape[0];
        if (ReplaceRate <= 0) return (masked, masked[..0], masked[..0]);
        long tokenCount = (long)((1 - ReplaceRate) * m), noiseCount = (long)(ReplaceRate * m);
        var perm = randperm(m, device: masked.device);
        var tokenNodes = masked.index_select(0, perm[..(int)tokenCount]);
        var noiseNodes = masked.index_select(0, perm[(int)(m - noiseCount)..]);
        var sources = randperm(nodes, device: masked.device)[..(int)noiseCount];
        return (tokenNodes, noiseNodes, sources);
    }

    /// <summary>GraphMAE's encoding_mask_noise on node features <paramref name="x"/> [N, F] for <paramref name="masked"/> [M].</summary>
    public Tensor Corrupt(Tensor x, Tensor masked)
    {
        var (tokenNodes, noiseNodes, sources) = Replacement(masked, x.shape[0]);
        var corrupted = x.detach().clone();
        corrupted.index_copy_(0, tokenNodes, zeros(tokenNodes.shape[0], x.shape[1], dtype: x.dtype, device: x.device));
        if (noiseNodes.shape[0] > 0) corrupted.index_copy_(0, noiseNodes, x.detach().index_select(0, sources));
        return corrupted.index_add(0, tokenNodes, mask_token.expand(tokenNodes.shape[0], -1), MessagePassing.One);
    }
}

/// <summary>Scaled cosine error (GraphMAE): mean over rows of (1 − cos(x, y))^α.</summary>
public static class ScaledCosineError
{
    public static Tensor Loss(Tensor prediction, Tensor target, double alpha)
    {
        var x = F.normalize(prediction, p: 2, dim: -1);
        var y = F.normalize(target, p: 2, dim: -1);
        using var exponent = alpha.ToScalar();
        return (x * y).sum(-1).neg().add_(MessagePassing.One).pow(exponent).mean();
    }
}

/// <summary>
/// GraphMAE's objective: a bias-free linear map from the encoder to the decoder, re-masking (the masked nodes'
/// codes set to zero), a one-layer GAT decoder back to feature space, and the scaled cosine error on the
/// masked nodes against their original (tokenised) features. Reads every node's latent from the encoder.
/// </summary>
public sealed class GraphMaeObjective : nn.Module, IObjective
{
    readonly Linear encoder_to_decoder;
    readonly GatConv decoder;

    public GraphMaeObjective(int latentDim, int featureDim, double alpha, GatLayerOptions layer) : base(nameof(GraphMaeObjective))
    {
        if (alpha <= 0) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "the SCE exponent must be positive");
        Alpha = alpha;
        encoder_to_decoder = nn.Linear(latentDim, latentDim, hasBias: false);
        decoder = new GatConv(latentDim, featureDim, 1, layer with { Residual = false, Activation = "none", Norm = "none" });
        RegisterComponents();
    }

    public double Alpha { get; }

    public ObjectiveResult Compute(TokenBatch tokens, MaskPlan plan, Encoded encoded)
    {
        var masked = plan.Masked.reshape(-1);
        // Re-masking zeroes the masked nodes' codes, so only the kept nodes go through the map.
        var latent = encoded.Latent[0];
        var kept = plan.Visible.reshape(-1);
        var code = zeros(latent.shape[0], latent.shape[1], dtype: latent.dtype, device: latent.device)
            .index_copy(0, kept, encoder_to_decoder.forward(latent.index_select(0, kept)));
        var reconstruction = decoder.Forward(code, tokens.Extras[GraphTokenizer.EdgeIndexKey], masked);
        var target = tokens.Tokens[0].index_select(0, masked);
        return new ObjectiveResult(ScaledCosineError.Loss(reconstruction, target, Alpha));
    }
}
