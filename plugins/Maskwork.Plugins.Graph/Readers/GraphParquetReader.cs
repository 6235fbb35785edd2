using System.Runtime.CompilerServices;
using Maskwork.Abstractions;
using Parquet.Serialization;

namespace Maskwork.Plugins.Graph.Readers;

/// <summary>
/// A graph as two Parquet tables in one folder: <c>nodes.parquet</c> (<c>id</c> int64, <c>label</c> int32 nullable,
/// <c>split</c> string nullable, <c>features</c> list of float) and <c>edges.parquet</c> (<c>src</c>, <c>dst</c> int64,
/// directed). <see cref="WriteAsync"/> writes the same layout. A bad row skips the graph, naming file and row.
/// </summary>
public sealed class GraphParquetReader : IDatasetReader
{
    public sealed class NodeRow
    {
        public long Id { get; set; }
        public int? Label { get; set; }
        public string? Split { get; set; }
        public float[] Features { get; set; } = [];
    }

    public sealed class EdgeRow
    {
        public long Src { get; set; }
        public long Dst { get; set; }
    }

    public string Name => "graph-parquet";
    public string Description => "graph as nodes.parquet (id, label, split, features) + edges.parquet (src, dst); option: undirected";

    public async IAsyncEnumerable<Sample> ReadAsync(DataSpec spec, IDataIssues issues, [EnumeratorCancellation] CancellationToken ct)
    {
        string folder = PlanetoidReader.Locate(spec, Name);
        string nodes = Path.Combine(folder, "nodes.parquet"), edges = Path.Combine(folder, "edges.parquet");
        foreach (var f in new[] { nodes, edges })
            if (!File.Exists(f)) throw new FileNotFoundException($"{Name}: {f} not found (a graph-parquet folder holds nodes.parquet and edges.parquet)");
        bool undirected = GraphBuilder.BoolOption(spec, "undirected", false);
        GraphSample? graph = null;
        try
        {
            graph = await ReadAsync(nodes, edges, undirected, folder, ct);
        }
        catch (GraphFormatException e)
        {
            issues.Skip(e.File, e.Where);
        }
        if (graph is not null) yield return graph;
    }

    public static async Task<GraphSample> ReadAsync(string nodesPath, string edgesPath, bool undirected, string source, CancellationToken ct)
    {
        var nodes = await Load<NodeRow>(nodesPath, ct);
        var edges = await Load<EdgeRow>(edgesPath, ct);
        var builder = new GraphBuilder();
        long row = 0;
        foreach (var n in nodes)
        {
            row++;
            var split = GraphBuilder.ParseSplit(n.Split ?? "", nodesPath, row);
            if (n.Features.Any(v => !float.IsFinite(v))) throw new GraphFormatException(nodesPath, row, "non-finite feature value", "row");
            try { builder.AddDenseNode(n.Id, n.Label ?? -1, split, n.Features, nodesPath, row); }
            catch (GraphFormatException e) { throw new GraphFormatException(e.File, e.Line, e.Reason, "row"); }
        }
        row = 0;
        foreach (var e in edges) builder.AddEdge(e.Src, e.Dst, edgesPath, ++row);
        try { return builder.Build(source, undirected: undirected); }
        catch (GraphFormatException e) when (e.File == edgesPath) { throw new GraphFormatException(e.File, e.Line, e.Reason, "row"); }
    }

    static async Task<IList<T>> Load<T>(string path, CancellationToken ct) where T : class, new()
    {
        try
        {
            await using var fs = File.OpenRead(path);
            return (await ParquetSerializer.DeserializeAsync<T>(fs, cancellationToken: ct)).Data;
        }
        catch (Exception e) when (e is not OperationCanceledException and not GraphFormatException)
        {
            throw new GraphFormatException(path, 0, $"not a readable {typeof(T).Name.Replace("Row", "", StringComparison.Ordinal).ToLowerInvariant()}s table ({e.Message.Split('\n')[0]})");
        }
    }

    /// <summary>Writes <paramref name="graph"/> as a graph-parquet folder (node ids are positions).</summary>
    public static async Task WriteAsync(string folder, GraphSample graph, CancellationToken ct = default)
    {
        Directory.CreateDirectory(folder);
        int f = graph.FeatureDim;
        var nodes = Enumerable.Range(0, graph.NodeCount).Select(i => new NodeRow
        {
            Id = i,
            Label = graph.NodeLabels[i] >= 0 ? graph.NodeLabels[i] : null,
            Split = graph.NodeSplits[i] == NodeSplit.None ? null : graph.NodeSplits[i].ToString().ToLowerInvariant(),
            Features = graph.Values.AsSpan(i * f, f).ToArray(),
        }).ToList();
        var edges = graph.EdgeSource.Select((s, k) => new EdgeRow { Src = s, Dst = graph.EdgeTarget[k] }).ToList();
        await Save(Path.Combine(folder, "nodes.parquet"), nodes, ct);
        await Save(Path.Combine(folder, "edges.parquet"), edges, ct);
    }

    static async Task Save<T>(string path, IReadOnlyCollection<T> rows, CancellationToken ct)
    {
        await using (var fs = File.Create(path + ".tmp")) await ParquetSerializer.SerializeAsync(rows, fs, cancellationToken: ct);
        File.Move(path + ".tmp", path, true);
    }
}
