using System.Runtime.CompilerServices;
using Maskwork.Abstractions;

namespace Maskwork.Plugins.Graph.Readers;

/// <summary>
/// Planetoid citation graphs in Maskwork's CSV form (the format of <c>datasets/graph/{cora,citeseer}</c>):
/// <list type="bullet">
/// <item><c>nodes.csv</c>: header <c>index,label,split,active_feature_indices...</c>, then one row per node
/// <c>index,label,split,f1,f2,…</c>; split ∈ {train,val,test,none}; the f's are the 0-based indices of the
/// binary bag-of-words features equal to 1 (none for a featureless node).</item>
/// <item><c>edges.csv</c>: header <c>src,dst</c>, one directed edge per row (both directions listed for an
/// undirected graph).</item>
/// </list>
/// The feature count is the largest active index + 1 unless <c>--set data.features=N</c> says otherwise.
/// The whole graph is one sample whatever split is asked for: splits belong to nodes (transductive).
/// A bad row skips the graph with the file and line named.
/// </summary>
public sealed class PlanetoidReader : IDatasetReader
{
    public string Name => "planetoid";
    public string Description => "Planetoid citation graph folder (nodes.csv + edges.csv, public split); options: features, undirected";

    /// <summary>The folder a spec names: the path itself, else $MASKWORK_DATA/&lt;path&gt; or $MASKWORK_DATA/graph/&lt;path&gt;.</summary>
    public static string Locate(DataSpec spec, string reader)
    {
        var candidates = new List<string>();
        if (spec.Path.Length > 0) candidates.Add(spec.Path);
        if (Environment.GetEnvironmentVariable("MASKWORK_DATA") is { Length: > 0 } root && spec.Path.Length > 0 && !Path.IsPathRooted(spec.Path))
        {
            candidates.Add(Path.Combine(root, spec.Path));
            candidates.Add(Path.Combine(root, "graph", spec.Path));
        }
        return candidates.FirstOrDefault(Directory.Exists) ?? throw new DirectoryNotFoundException(
            $"{reader}: graph folder '{spec.Path}' not found{(candidates.Count > 1 ? $" (also looked in {string.Join(", ", candidates.Skip(1))})" : "")}; " +
            $"pass --data {reader}:<folder with nodes.csv and edges.csv> or set MASKWORK_DATA");
    }

    public async IAsyncEnumerable<Sample> ReadAsync(DataSpec spec, IDataIssues issues, [EnumeratorCancellation] CancellationToken ct)
    {
        string folder = Locate(spec, Name);
        string nodes = Path.Combine(folder, "nodes.csv"), edges = Path.Combine(folder, "edges.csv");
        foreach (var f in new[] { nodes, edges })
            if (!File.Exists(f)) throw new FileNotFoundException($"{Name}: {f} not found (a planetoid folder holds nodes.csv and edges.csv)");
        int? featureDim = GraphBuilder.IntOption(spec, "features");
        bool undirected = GraphBuilder.BoolOption(spec, "undirected", false);
        GraphSample? graph = null;
        try
        {
            graph = await ReadAsync(nodes, edges, featureDim, undirected, folder, ct);
        }
        catch (GraphFormatException e)
        {
            issues.Skip(e.File, e.Where);
        }
        if (graph is not null) yield return graph;
    }

    /// <summary>Reads one planetoid graph; throws <see cref="GraphFormatException"/> naming file and line on any bad row.</summary>
    public static async Task<GraphSample> ReadAsync(string nodesPath, string edgesPath, int? featureDim, bool undirected, string source, CancellationToken ct)
    {
        var builder = new GraphBuilder();
        bool first = true;
        await foreach (var (line, fields) in TextTable.ReadAsync(nodesPath, ',', ct))
        {
            if (first)
            {
                first = false;
                if (!TextTable.IsInteger(fields[0])) continue; // header
            }
            if (fields.Length < 3)
                throw new GraphFormatException(nodesPath, line, $"{fields.Length} columns; expected index,label,split followed by active feature indices");
            long id = GraphBuilder.ParseId(fields[0], "node index", nodesPath, line);
            int label = GraphBuilder.ParseLabel(fields[1], nodesPath, line);
            var split = GraphBuilder.ParseSplit(fields[2], nodesPath, line);
            int count = fields.Length - 3;
            if (count > 0 && fields[^1].Trim().Length == 0) count--; // trailing comma of a featureless row
            var active = new int[count];
            for (int i = 0; i < count; i++)
            {
                long a = GraphBuilder.ParseId(fields[3 + i], "feature index", nodesPath, line);
                if (a is < 0 or > int.MaxValue) throw new GraphFormatException(nodesPath, line, $"feature index {a} out of range");
                active[i] = (int)a;
            }
            builder.AddSparseNode(id, label, split, active, nodesPath, line);
        }

        first = true;
        await foreach (var (line, fields) in TextTable.ReadAsync(edgesPath, ',', ct))
        {
            if (first)
            {
                first = false;
                if (!TextTable.IsInteger(fields[0])) continue;
            }
            if (fields.Length != 2) throw new GraphFormatException(edgesPath, line, $"{fields.Length} columns; expected src,dst");
            builder.AddEdge(GraphBuilder.ParseId(fields[0], "src", edgesPath, line), GraphBuilder.ParseId(fields[1], "dst", edgesPath, line), edgesPath, line);
        }
        return builder.Build(source, featureDim, undirected);
    }
}
