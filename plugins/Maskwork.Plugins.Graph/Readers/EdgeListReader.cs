using System.Runtime.CompilerServices;
using Maskwork.Abstractions;

namespace Maskwork.Plugins.Graph.Readers;

/// <summary>
/// An edge list plus a node-features file (plus, optionally, a labels file), as plain text:
/// comma, tab or whitespace separated, <c>#</c>/<c>%</c> comments, an optional header line.
/// <list type="bullet">
/// <item>edges (<c>edges.{txt,csv,tsv,edgelist}</c>, or the spec's path when it is a file): <c>src dst</c> per line
/// (further columns such as weights are ignored);</item>
/// <item>features (<c>features.{txt,csv,tsv}</c> next to it, or <c>--set data.features_file=PATH</c>): <c>id v1 … vF</c>,
/// dense values, every row the same width; nodes that appear only in edges are an error;</item>
/// <item>labels (<c>labels.{txt,csv,tsv}</c> or <c>data.labels_file</c>, optional): <c>id label [split]</c>.</item>
/// </list>
/// Edges are made undirected (both directions) unless <c>data.undirected=false</c>. A bad line skips the graph, naming file and line.
/// </summary>
public sealed class EdgeListReader : IDatasetReader
{
    static readonly string[] TextExtensions = [".txt", ".csv", ".tsv"];

    public string Name => "edge-list";
    public string Description => "edge list + node-features (+ labels) text files; options: features_file, labels_file, undirected";

    public async IAsyncEnumerable<Sample> ReadAsync(DataSpec spec, IDataIssues issues, [EnumeratorCancellation] CancellationToken ct)
    {
        var (edges, features, labels) = Locate(spec);
        bool undirected = GraphBuilder.BoolOption(spec, "undirected", true);
        GraphSample? graph = null;
        try
        {
            graph = await ReadAsync(edges, features, labels, undirected, spec.Path, ct);
        }
        catch (GraphFormatException e)
        {
            issues.Skip(e.File, e.Where);
        }
        if (graph is not null) yield return graph;
    }

    static (string Edges, string Features, string? Labels) Locate(DataSpec spec)
    {
        string folder;
        string? edges;
        if (File.Exists(spec.Path)) { edges = spec.Path; folder = Path.GetDirectoryName(Path.GetFullPath(spec.Path))!; }
        else if (Directory.Exists(spec.Path))
        {
            folder = spec.Path;
            edges = TextTable.Find(folder, ["edges"], [.. TextExtensions, ".edgelist"])
                ?? throw new FileNotFoundException($"edge-list: no edges.{{txt,csv,tsv,edgelist}} in {folder}");
        }
        else throw new FileNotFoundException($"edge-list: '{spec.Path}' is neither an edges file nor a folder (use --data edge-list:<folder or edges file>)");

        string features = spec.Options.TryGetValue("features_file", out var ff) && ff.Length > 0 ? ff
            : TextTable.Find(folder, ["features", "nodes"], TextExtensions)
              ?? throw new FileNotFoundException($"edge-list: no features.{{txt,csv,tsv}} next to {edges} (or set data.features_file)");
        if (!File.Exists(features)) throw new FileNotFoundException($"edge-list: features file {features} not found");
        string? labels = spec.Options.TryGetValue("labels_file", out var lf) && lf.Length > 0 ? lf : TextTable.Find(folder, ["labels"], TextExtensions);
        if (labels is not null && !File.Exists(labels)) throw new FileNotFoundException($"edge-list: labels file {labels} not found");
        return (edges, features, labels);
    }

    /// <summary>Reads one graph; throws <see cref="GraphFormatException"/> naming file and line on any bad line.</summary>
    public static async Task<GraphSample> ReadAsync(string edgesPath, string featuresPath, string? labelsPath, bool undirected, string source, CancellationToken ct)
    {
        var nodeLabels = new Dictionary<long, (int Label, NodeSplit Split)>();
        if (labelsPath is not null)
        {
            bool firstLabel = true;
            await foreach (var (line, fields) in TextTable.ReadAsync(labelsPath, null, ct))
            {
                if (firstLabel) { firstLabel = false; if (!TextTable.IsInteger(fields[0])) continue; }
                if (fields.Length is < 2 or > 3) throw new GraphFormatException(labelsPath, line, $"{fields.Length} columns; expected id label [split]");
                long id = GraphBuilder.ParseId(fields[0], "node id", labelsPath, line);
                var split = fields.Length == 3 ? GraphBuilder.ParseSplit(fields[2], labelsPath, line) : NodeSplit.None;
                if (!nodeLabels.TryAdd(id, (GraphBuilder.ParseLabel(fields[1], labelsPath, line), split)))
                    throw new GraphFormatException(labelsPath, line, $"node {id} is labelled twice");
            }
        }

        var builder = new GraphBuilder();
        bool first = true;
        await foreach (var (line, fields) in TextTable.ReadAsync(featuresPath, null, ct))
        {
            if (first) { first = false; if (!TextTable.IsInteger(fields[0])) continue; }
            if (fields.Length < 2) throw new GraphFormatException(featuresPath, line, $"{fields.Length} columns; expected id followed by feature values");
            long id = GraphBuilder.ParseId(fields[0], "node id", featuresPath, line);
            var values = new float[fields.Length - 1];
            for (int i = 0; i < values.Length; i++) values[i] = GraphBuilder.ParseFloat(fields[i + 1], featuresPath, line);
            var (label, split) = nodeLabels.TryGetValue(id, out var l) ? l : (-1, NodeSplit.None);
            builder.AddDenseNode(id, label, split, values, featuresPath, line);
        }

        first = true;
        await foreach (var (line, fields) in TextTable.ReadAsync(edgesPath, null, ct))
        {
            if (first) { first = false; if (!TextTable.IsInteger(fields[0])) continue; }
            if (fields.Length < 2) throw new GraphFormatException(edgesPath, line, $"{fields.Length} column; expected src dst");
            builder.AddEdge(GraphBuilder.ParseId(fields[0], "src", edgesPath, line), GraphBuilder.ParseId(fields[1], "dst", edgesPath, line), edgesPath, line);
        }
        return builder.Build(source, undirected: undirected);
    }
}
