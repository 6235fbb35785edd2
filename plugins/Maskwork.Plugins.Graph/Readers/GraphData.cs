using Maskwork.Abstractions;
using Maskwork.Backend.Data;

namespace Maskwork.Plugins.Graph.Readers;

/// <summary>The plugin's graph readers, and what a recipe needs to know about a job's graph before it builds a model.</summary>
public static class GraphData
{
    public static IReadOnlyList<IDatasetReader> Readers { get; } = [new PlanetoidReader(), new EdgeListReader(), new GraphParquetReader()];

    /// <summary>
    /// The node-feature width of the first graph of <paramref name="spec"/> (read with this plugin's readers), so the
    /// GAT's input layer can be sized before training. Throws <see cref="ArgumentException"/> with the reason otherwise.
    /// </summary>
    public static int FeatureDim(DataSpec spec)
    {
        var reader = Readers.FirstOrDefault(r => string.Equals(r.Name, spec.Reader, StringComparison.OrdinalIgnoreCase))
            ?? throw new ArgumentException($"cannot size the model from data '{spec}': not a graph reader ({string.Join(", ", Readers.Select(r => r.Name))}); set model.features");
        var issues = new DataIssueLog();
        try
        {
            var enumerator = reader.ReadAsync(spec, issues, CancellationToken.None).GetAsyncEnumerator();
            try
            {
                if (enumerator.MoveNextAsync().AsTask().GetAwaiter().GetResult() && enumerator.Current is GraphSample g) return g.FeatureDim;
            }
            finally { enumerator.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
        }
        catch (IOException e) { throw new ArgumentException(e.Message, e); }
        var reason = issues.Items.Select(i => $"{i.File}: {i.Reason}").FirstOrDefault() ?? "no graph";
        throw new ArgumentException($"cannot size the model from data '{spec}': {reason}");
    }
}
