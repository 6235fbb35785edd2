using Maskwork.Abstractions;
using Company.Signals.Readers;
using Company.Signals.Recipes;

namespace Company.Signals;

/// <summary>
/// The plugin: the one <see cref="IModalityPlugin"/> of this assembly. The host finds it through plugin.json,
/// calls <see cref="Register"/> once, and from then on uses the readers and recipes it added.
/// </summary>
public sealed class SignalsPlugin : IModalityPlugin
{
    /// <summary>Must equal PluginId in the project file (plugin.json's "id"); prefix of every recipe name.</summary>
    public const string Id = "company.signals";

    /// <inheritdoc/>
    public PluginInfo Info { get; } = new(Id, typeof(SignalsPlugin).Assembly.GetName().Version?.ToString(3) ?? "0.0.0",
        "1-D signals / time series: CSV and Parquet series, 1-D patches, MAE with random masking.");

    /// <inheritdoc/>
    public void Register(IComponentRegistry registry)
    {
        registry.AddReader(new CsvSeriesReader($"{Id}-csv"));
        registry.AddReader(new ParquetSeriesReader($"{Id}-parquet"));
        registry.AddRecipe(new SignalMaeRecipe($"{Id}/mae"));
    }
}
