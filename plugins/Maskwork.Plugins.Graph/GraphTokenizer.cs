using Maskwork.Abstractions;
using Maskwork.Backend.Training;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Graph;

/// <summary>
/// Graphs → node tokens. A batch of graphs becomes their disjoint union (as DGL and PyG batch graphs):
/// <see cref="TokenBatch.Tokens"/> [1, ΣN, F] on a <see cref="GraphLayout"/>, with
/// <list type="bullet">
/// <item><c>Extras["edge_index"]</c> [2, E] int64 (row 0 sources, row 1 targets) of the union, after the
/// self-loop policy (GraphMAE removes self-loops and adds one per node);</item>
/// <item><see cref="TokenBatch.Labels"/> [1, ΣN] int64 node classes (−1 unlabelled), the per-token labels of
/// a <see cref="ProbeLevel.Token"/> probe, and <c>Extras[NodeProbe.SplitKey]</c> [1, ΣN] node split codes;</item>
/// <item><c>Extras["row_scale"]</c> [1, ΣN, 1]: what each row was divided by (row-normalised features, as the
/// DGL citation datasets GraphMAE trains on), so <see cref="Detokenize"/> is the exact inverse.</item>
/// </list>
/// </summary>
public sealed class GraphTokenizer(bool normalizeRows = true, bool selfLoops = true) : ITokenizer
{
    public const string EdgeIndexKey = "edge_index";
    public const string RowScaleKey = "row_scale";

    public bool NormalizeRows { get; } = normalizeRows;
    public bool SelfLoops { get; } = selfLoops;

    public TokenBatch Tokenize(IReadOnlyList<Sample> batch, Device device)
    {
        if (batch.Count == 0) throw new ArgumentException("empty batch");
        var graphs = new GraphSample[batch.Count];
        for (int i = 0; i < batch.Count; i++)
            graphs[i] = batch[i] as GraphSample ?? throw new InvalidDataFileException(batch[i].Source,
                $"a {batch[i].GetType().Name} of shape [{string.Join(',', batch[i].Shape)}] is not a graph (use a graph reader: planetoid, edge-list, graph-parquet)");
        int f = graphs[0].FeatureDim;
        if (graphs.FirstOrDefault(g => g.FeatureDim != f) is { } odd)
            throw new InvalidDataFileException(odd.Source, $"{odd.FeatureDim} node features where the batch has {f}");

        long n = graphs.Sum(g => (long)g.NodeCount);
        var values = graphs.Length == 1 ? graphs[0].Values : graphs.SelectMany(g => g.Values).ToArray();
        var labels = new long[n];
        var splits = new long[n];
        var src = new List<long>();
        var dst = new List<long>();
        long offset = 0;
        foreach (var g in graphs)
        {
            for (int i = 0; i < g.NodeCount; i++)
            {
                labels[offset + i] = g.NodeLabels[i];
                splits[offset + i] = (long)g.NodeSplits[i];
            }
            for (int k = 0; k < g.EdgeCount; k++)
            {
                if (SelfLoops && g.EdgeSource[k] == g.EdgeTarget[k]) continue;
                src.Add(offset + g.EdgeSource[k]);
                dst.Add(offset + g.EdgeTarget[k]);
            }
            offset += g.NodeCount;
        }
        if (SelfLoops)
            for (long i = 0; i < n; i++) { src.Add(i); dst.Add(i); }

        var x = tensor(values, [n, f]);
        var scale = ones(n, 1);
        if (NormalizeRows)
        {
            var sums = x.sum(1, keepdim: true);
            scale = where(sums.gt(Maskwork.Plugins.Graph.Nn.MessagePassing.Zero), sums, ones_like(sums));
            x = x / scale;
        }
        var edgeIndex = tensor(src.Concat(dst).ToArray(), [2, src.Count]);
        return new TokenBatch(x.unsqueeze(0).to(device), new GraphLayout((int)n))
        {
            Labels = tensor(labels, [1, n]).to(device),
            Extras = new Dictionary<string, Tensor>
            {
                [EdgeIndexKey] = edgeIndex.to(device),
                [NodeProbe.SplitKey] = tensor(splits, [1, n]).to(device),
                [RowScaleKey] = scale.unsqueeze(0).to(device),
            },
        };
    }

    /// <summary>Undoes the row normalisation: node features [1, ΣN, F] as the readers gave them.</summary>
    public Tensor Detokenize(Tensor tokens, TokenBatch like) =>
        like.Extras.TryGetValue(RowScaleKey, out var scale) ? tokens * scale.to(tokens.device) : tokens;
}

/// <summary>GraphMAE's node masking: a uniformly random ⌊rate·N⌋ nodes of each graph are masked (any layout works).</summary>
public sealed class NodeMasker : IMasker
{
    public NodeMasker(double rate)
    {
        if (rate is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(rate), rate, "mask rate must be in [0, 1)");
        Rate = rate;
    }

    public double Rate { get; }

    /// <summary>Masked nodes per graph of <paramref name="nodes"/> nodes, as GraphMAE counts them: int(rate · N).</summary>
    public int MaskedCount(long nodes) => (int)(Rate * nodes);

    public MaskPlan Plan(TokenBatch tokens, MaskContext context)
    {
        long b = tokens.BatchSize, n = tokens.TokenCount;
        int m = MaskedCount(n);
        var order = rand(b, n, generator: context.Generator).argsort(1).to(tokens.Tokens.device);
        return new MaskPlan(order[.., m..(int)n], order[.., ..m]);
    }
}
