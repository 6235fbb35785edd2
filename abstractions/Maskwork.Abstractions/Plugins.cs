namespace Maskwork.Abstractions;

/// <summary>Identity of a modality plugin, as shown by <c>maskwork plugins</c>.</summary>
/// <param name="Id">Short lowercase id, the prefix of its component names ("image").</param>
/// <param name="Version">SemVer version of the plugin.</param>
/// <param name="Description">One line for humans.</param>
public sealed record PluginInfo(string Id, string Version, string Description);

/// <summary>The unit of discovery: one per plugin assembly.</summary>
public interface IModalityPlugin
{
    /// <summary>Who this plugin is.</summary>
    PluginInfo Info { get; }

    /// <summary>Adds the plugin's readers and recipes to the registry.</summary>
    void Register(IComponentRegistry registry);
}

/// <summary>Where plugins put their components. Names are <c>&lt;plugin-id&gt;/&lt;name&gt;</c> for recipes, bare for readers.</summary>
public interface IComponentRegistry
{
    /// <summary>Adds a dataset reader, addressed by <see cref="IDatasetReader.Name"/> in data specs.</summary>
    void AddReader(IDatasetReader reader);

    /// <summary>Adds a recipe, addressed by <see cref="IRecipe.Name"/>.</summary>
    void AddRecipe(IRecipe recipe);

    /// <summary>
    /// Adds a tokenizer by <see cref="ITokenizerFactory.Name"/> (<c>&lt;plugin-id&gt;/&lt;name&gt;</c>) that recipes of any
    /// plugin may compose (<see cref="BuildContext.Tokenizer"/>). Hosts older than 1.2 have no tokenizer registry.
    /// </summary>
    void AddTokenizer(ITokenizerFactory tokenizer) =>
        throw new NotSupportedException($"this host has no tokenizer registry (needs Maskwork 1.2 or later) for '{tokenizer.Name}'");
}
