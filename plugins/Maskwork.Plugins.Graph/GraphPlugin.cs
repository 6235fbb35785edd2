using Maskwork.Abstractions;
using Maskwork.Plugins.Graph.Readers;
using Maskwork.Plugins.Graph.Recipes;

namespace Maskwork.Plugins.Graph;

/// <summary>The graph modality: Planetoid CSV, edge-list and graph-Parquet readers; GraphMAE recipes.</summary>
public sealed class GraphPlugin : IModalityPlugin
{
    public PluginInfo Info { get; } = new("graph", typeof(GraphPlugin).Assembly.GetName().Version?.ToString(3) ?? "0.0.0",
        "Graphs: Planetoid CSV, edge lists, graph Parquet; GraphMAE (GAT, [MASK] nodes, SCE) with node-classification probes.");

    public void Register(IComponentRegistry registry)
    {
        foreach (var reader in GraphData.Readers) registry.AddReader(reader);
        registry.AddRecipe(GraphMaeRecipe.Cora());
        registry.AddRecipe(GraphMaeRecipe.CiteSeer());
    }
}
