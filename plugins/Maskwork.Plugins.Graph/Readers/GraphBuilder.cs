using System.Globalization;
using Maskwork.Abstractions;

namespace Maskwork.Plugins.Graph.Readers;

/// <summary>A problem in one line (or row) of a graph file; readers turn it into a skipped graph that names file and line.</summary>
public sealed class GraphFormatException(string file, long line, string reason, string unit = "line")
    : Exception(line > 0 ? $"{file}: {unit} {line}: {reason}" : $"{file}: {reason}")
{
    public string File { get; } = file;

    /// <summary>1-based line (or row) number; 0 when the problem is the whole file.</summary>
    public long Line { get; } = line;

    public string Reason { get; } = reason;

    /// <summary>"line" for text files, "row" for tables.</summary>
    public string Unit { get; } = unit;

    /// <summary>What a reader reports for the skipped file: where in it, and why.</summary>
    public string Where => Line > 0 ? $"{Unit} {Line}: {Reason}" : Reason;
}

/// <summary>
/// Collects nodes (id, label, split, features) and edges (by node id) from any graph format, checks
/// them, and builds a <see cref="GraphSample"/>. Node ids are arbitrary integers; positions follow
/// the order nodes were added. Every error names the file and line it came from.
/// </summary>
public sealed class GraphBuilder
{
    readonly Dictionary<long, int> positions = [];
    readonly List<long> ids = [];
    readonly List<int> labels = [];
    readonly List<NodeSplit> splits = [];
    readonly List<(int[]? Active, float[]? Dense)> features = [];
    readonly List<(long Src, long Dst, string File, long Line)> edges = [];
    int maxActive = -1;
    int denseDim = -1;

    public int NodeCount => ids.Count;

    /// <summary>Adds a node whose features are the 0-based indices of its active (1-valued) binary features.</summary>
    public void AddSparseNode(long id, int label, NodeSplit split, int[] active, string file, long line)
    {
        if (denseDim >= 0) throw new GraphFormatException(file, line, "mixes sparse and dense feature rows");
        foreach (var a in active)
        {
            if (a < 0) throw new GraphFormatException(file, line, $"negative feature index {a}");
            maxActive = Math.Max(maxActive, a);
        }
        Add(id, label, split, (active, null), file, line);
    }

    /// <summary>Adds a node with a dense feature vector; every node must have the same width.</summary>
    public void AddDenseNode(long id, int label, NodeSplit split, float[] values, string file, long line)
    {
        if (maxActive >= 0) throw new GraphFormatException(file, line, "mixes sparse and dense feature rows");
        if (denseDim >= 0 && values.Length != denseDim)
            throw new GraphFormatException(file, line, $"{values.Length} feature values where earlier nodes have {denseDim}");
        denseDim = values.Length;
        Add(id, label, split, (null, values), file, line);
    }

    void Add(long id, int label, NodeSplit split, (int[]?, float[]?) feature, string file, long line)
    {
        if (label < -1) throw new GraphFormatException(file, line, $"label {label} is negative (use -1 or an empty field for unlabelled nodes)");
        if (!positions.TryAdd(id, ids.Count)) throw new GraphFormatException(file, line, $"node {id} is defined twice");
        ids.Add(id);
        labels.Add(label);
        splits.Add(split);
        features.Add(feature);
    }

    /// <summary>Records a directed edge; endpoints are checked in <see cref="Build"/>, once every node is known.</summary>
    public void AddEdge(long src, long dst, string file, long line) => edges.Add((src, dst, file, line));

    /// <summary>
    /// Builds the graph. <paramref name="featureDim"/> fixes the width of sparse features (default: the
    /// largest active index + 1). <paramref name="undirected"/> adds the reverse of every edge.
    /// Duplicate edges are merged; self-loops are kept as given (the tokenizer decides about them).
    /// </summary>
    public GraphSample Build(string source, int? featureDim = null, bool undirected = false)
    {
        if (ids.Count == 0) throw new GraphFormatException(source, 0, "the graph has no nodes");
        int n = ids.Count;
        int f = denseDim >= 0 ? denseDim : featureDim ?? maxActive + 1;
        if (denseDim < 0 && featureDim is { } fd && maxActive >= fd)
            throw new GraphFormatException(source, 0, $"feature index {maxActive} does not fit the requested {fd} features");
        if (denseDim >= 0 && featureDim is { } dd && dd != denseDim)
            throw new GraphFormatException(source, 0, $"the nodes have {denseDim} features, not the requested {dd}");
        var values = new float[(long)n * Math.Max(f, 0)];
        for (int i = 0; i < n; i++)
        {
            var (active, dense) = features[i];
            if (dense is not null) Array.Copy(dense, 0, values, (long)i * f, f);
            else foreach (var a in active!) values[(long)i * f + a] = 1f;
        }

        var seen = new HashSet<long>();
        var src = new List<int>(edges.Count * (undirected ? 2 : 1));
        var dst = new List<int>(src.Capacity);
        void Put(int s, int d)
        {
            if (seen.Add((long)s * n + d)) { src.Add(s); dst.Add(d); }
        }
        foreach (var (s, d, file, line) in edges)
        {
            if (!positions.TryGetValue(s, out int ps)) throw new GraphFormatException(file, line, $"edge {s}->{d} refers to node {s}, which is not defined");
            if (!positions.TryGetValue(d, out int pd)) throw new GraphFormatException(file, line, $"edge {s}->{d} refers to node {d}, which is not defined");
            Put(ps, pd);
            if (undirected) Put(pd, ps);
        }
        return new GraphSample(values, n, f, src.ToArray(), dst.ToArray(), labels.ToArray(), splits.ToArray(), source);
    }

    public static NodeSplit ParseSplit(string text, string file, long line) => text.Trim().ToLowerInvariant() switch
    {
        "train" => NodeSplit.Train,
        "val" or "valid" or "validation" => NodeSplit.Val,
        "test" => NodeSplit.Test,
        "" or "none" or "unlabeled" or "unlabelled" => NodeSplit.None,
        var other => throw new GraphFormatException(file, line, $"unknown split '{other}' (train, val, test or none)"),
    };

    public static long ParseId(string text, string what, string file, long line) =>
        long.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v
            : throw new GraphFormatException(file, line, $"{what} '{text.Trim()}' is not an integer");

    public static int ParseLabel(string text, string file, long line)
    {
        text = text.Trim();
        if (text.Length == 0) return -1;
        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v
            : throw new GraphFormatException(file, line, $"label '{text}' is not an integer");
    }

    public static float ParseFloat(string text, string file, long line) =>
        float.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && float.IsFinite(v) ? v
            : throw new GraphFormatException(file, line, $"feature value '{text.Trim()}' is not a finite number");

    /// <summary>Reads an integer reader option, e.g. <c>--set data.features=1433</c>.</summary>
    public static int? IntOption(DataSpec spec, string key)
    {
        if (!spec.Options.TryGetValue(key, out var raw) || raw.Length == 0) return null;
        return int.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v > 0 ? v
            : throw new ArgumentException($"data option {key} must be a positive integer, got '{raw}'");
    }

    /// <summary>Reads a boolean reader option.</summary>
    public static bool BoolOption(DataSpec spec, string key, bool fallback)
    {
        if (!spec.Options.TryGetValue(key, out var raw) || raw.Length == 0) return fallback;
        return bool.TryParse(raw, out var v) ? v : throw new ArgumentException($"data option {key} must be true or false, got '{raw}'");
    }
}
