using Maskwork.Abstractions;

namespace Maskwork.Host.Plugins;

/// <summary>All readers, recipes and tokenizers the host knows, with the plugin that brought each.</summary>
public sealed class ComponentRegistry : ITokenizerCatalog
{
    readonly Dictionary<string, (ITokenizerFactory Tokenizer, string Owner)> tokenizers = new(StringComparer.OrdinalIgnoreCase);
    readonly Dictionary<string, (IDatasetReader Reader, string Owner)> readers = new(StringComparer.OrdinalIgnoreCase);
    readonly Dictionary<string, (IRecipe Recipe, string Owner)> recipes = new(StringComparer.OrdinalIgnoreCase);

    public IEnumerable<(IDatasetReader Reader, string Owner)> Readers => readers.Values.OrderBy(r => r.Reader.Name, StringComparer.Ordinal);
    public IEnumerable<(IRecipe Recipe, string Owner)> Recipes => recipes.Values.OrderBy(r => r.Recipe.Name, StringComparer.Ordinal);

    public IDatasetReader? Reader(string name) => readers.TryGetValue(name, out var r) ? r.Reader : null;
    public IRecipe? Recipe(string name) => recipes.TryGetValue(name, out var r) ? r.Recipe : null;

    /// <summary>Registered tokenizers (<c>image/patches</c>, <c>vl/text</c>) with their plugins.</summary>
    public IEnumerable<(ITokenizerFactory Tokenizer, string Owner)> Tokenizers => tokenizers.Values.OrderBy(t => t.Tokenizer.Name, StringComparer.Ordinal);

    public ITokenizerFactory? Tokenizer(string name) => tokenizers.TryGetValue(name, out var t) ? t.Tokenizer : null;

    public IReadOnlyList<string> TokenizerNames => Tokenizers.Select(t => t.Tokenizer.Name).ToList();

    /// <summary>A registry view for one plugin: collects its components so they are added only if Register succeeds.</summary>
    public Staging For(string owner) => new(this, owner);

    public sealed class Staging(ComponentRegistry target, string owner) : IComponentRegistry
    {
        readonly List<IDatasetReader> readers = [];
        readonly List<IRecipe> recipes = [];
        readonly List<ITokenizerFactory> tokenizers = [];

        public void AddReader(IDatasetReader reader) => readers.Add(reader);

        public void AddTokenizer(ITokenizerFactory tokenizer)
        {
            if (!tokenizer.Name.StartsWith(owner + "/", StringComparison.Ordinal))
                throw new InvalidOperationException($"tokenizer '{tokenizer.Name}' must be named '{owner}/<name>'");
            tokenizers.Add(tokenizer);
        }

        public void AddRecipe(IRecipe recipe)
        {
            if (!recipe.Name.StartsWith(owner + "/", StringComparison.Ordinal))
                throw new InvalidOperationException($"recipe '{recipe.Name}' must be named '{owner}/<name>'");
            recipes.Add(recipe);
        }

        public IReadOnlyList<string> RecipeNames => recipes.Select(r => r.Name).ToList();

        /// <summary>Adds the staged components; refuses names another plugin already owns.</summary>
        public void Commit()
        {
            foreach (var r in readers)
                if (target.readers.TryGetValue(r.Name, out var existing) && existing.Owner != owner)
                    throw new InvalidOperationException($"reader '{r.Name}' is already provided by '{existing.Owner}'");
            foreach (var r in readers) target.readers[r.Name] = (r, owner);
            foreach (var r in recipes) target.recipes[r.Name] = (r, owner);
            foreach (var t in tokenizers) target.tokenizers[t.Name] = (t, owner);
        }
    }
}
