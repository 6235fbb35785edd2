using Maskwork.Abstractions;

namespace Maskwork.Plugins.Graph;

/// <summary>Which split a node belongs to in a transductive graph (Planetoid's public split).</summary>
public enum NodeSplit : byte
{
    None = 0,
    Train = 1,
    Val = 2,
    Test = 3,
}

/// <summary>
/// One whole graph as a sample: dense node features in <see cref="Sample.Values"/> (row-major, shape
/// [nodes, features]), directed edges as two parallel arrays of node positions, and per-node labels
/// (−1 = unlabelled) and splits. <see cref="Sample.Label"/> and <see cref="Sample.Split"/> stay null:
/// labels and splits of a node-level task belong to nodes, not to the graph.
/// </summary>
public sealed record GraphSample : Sample
{
    public GraphSample(float[] features, int nodes, int featureDim, int[] edgeSource, int[] edgeTarget, int[] nodeLabels, NodeSplit[] nodeSplits, string source)
        : base(features, [nodes, featureDim], null, source)
    {
        if (features.Length != (long)nodes * featureDim) throw new ArgumentException($"{features.Length} feature values for {nodes} nodes × {featureDim} features");
        if (edgeSource.Length != edgeTarget.Length) throw new ArgumentException("edge source and target arrays differ in length");
        if (nodeLabels.Length != nodes || nodeSplits.Length != nodes) throw new ArgumentException("one label and one split per node expected");
        EdgeSource = edgeSource;
        EdgeTarget = edgeTarget;
        NodeLabels = nodeLabels;
        NodeSplits = nodeSplits;
    }

    public int NodeCount => Shape[0];
    public int FeatureDim => Shape[1];
    public int EdgeCount => EdgeSource.Length;

    /// <summary>Source node position of each directed edge (messages flow source → target).</summary>
    public int[] EdgeSource { get; }

    /// <summary>Target node position of each directed edge.</summary>
    public int[] EdgeTarget { get; }

    /// <summary>Class of each node, −1 when unknown.</summary>
    public int[] NodeLabels { get; }

    /// <summary>Split of each node.</summary>
    public NodeSplit[] NodeSplits { get; }

    public int ClassCount => NodeLabels.Length == 0 ? 0 : NodeLabels.Max() + 1;
}
