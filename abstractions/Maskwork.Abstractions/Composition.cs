using static TorchSharp.torch;

namespace Maskwork.Abstractions;

/// <summary>
/// A sample with several named parts (DESIGN.md §3 "Composition across modalities"): an image and its caption,
/// RGB and a silhouette, points and views. Each part is an ordinary modality sample that the tokenizer
/// registered for that modality reads. The record itself is its <see cref="Primary"/> part (values, shape), so
/// code that knows nothing of parts (pictures, probes, <c>inspect</c>) sees the primary modality.
/// </summary>
public sealed record MultiPartSample : Sample
{
    /// <summary>A sample of <paramref name="parts"/> whose <paramref name="primary"/> part gives the values; label and source are the whole sample's.</summary>
    public MultiPartSample(IReadOnlyDictionary<string, Sample> parts, string primary, int? label, string source) : base(PrimaryOf(parts, primary))
    {
        Parts = parts;
        Primary = primary;
        Label = label;
        Source = source;
    }

    static Sample PrimaryOf(IReadOnlyDictionary<string, Sample> parts, string primary)
    {
        ArgumentNullException.ThrowIfNull(parts);
        return parts.TryGetValue(primary, out var p) ? p
            : throw new ArgumentException($"primary part '{primary}' is not one of the parts ({string.Join(", ", parts.Keys)})");
    }

    /// <summary>The parts by name ("image", "text", "alpha").</summary>
    public IReadOnlyDictionary<string, Sample> Parts { get; init; }

    /// <summary>The part whose values this record carries.</summary>
    public string Primary { get; init; }

    /// <summary>The part named <paramref name="name"/>, carrying this sample's label, split, index and epoch (so per-sample keys agree across parts).</summary>
    public Sample Part(string name) => Parts.TryGetValue(name, out var p)
        ? p with { Label = Label, Split = Split, Index = Index, Epoch = Epoch }
        : throw new KeyNotFoundException($"{Source}: no part '{name}' (parts: {string.Join(", ", Parts.Keys)})");
}

/// <summary>A piece of text as a sample (a caption): no dense values, the text in <see cref="Text"/>.</summary>
public sealed record TextSample : Sample
{
    /// <summary>A text sample.</summary>
    public TextSample(string text, int? label, string source) : base([], [0], label, source) => Text = text ?? throw new ArgumentNullException(nameof(text));

    /// <summary>The text.</summary>
    public string Text { get; init; }
}

/// <summary>What a tokenizer factory gets: options (strings, like data options) and the recipe's build context.</summary>
/// <param name="Options">Tokenizer options (<c>size</c>, <c>patch</c>, <c>length</c>…), each factory documents its own.</param>
/// <param name="Context">The build context of the recipe asking.</param>
public sealed record TokenizerRequest(IReadOnlyDictionary<string, string> Options, BuildContext Context)
{
    /// <summary>An option's value, or <paramref name="fallback"/>.</summary>
    public string Option(string key, string fallback) => Options.TryGetValue(key, out var v) ? v : fallback;

    /// <summary>An integer option, or <paramref name="fallback"/>; a value that is not an integer is refused naming the key.</summary>
    public int Int(string key, int fallback) => !Options.TryGetValue(key, out var v) ? fallback
        : int.TryParse(v, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int i) ? i
        : throw new ArgumentException($"tokenizer option {key}='{v}' is not an integer");
}

/// <summary>
/// A tokenizer a plugin registers by name (<c>&lt;plugin-id&gt;/&lt;name&gt;</c>: <c>image/patches</c>, <c>vl/text</c>), so a
/// recipe in another plugin can compose it (<see cref="BuildContext.Tokenizer"/>).
/// </summary>
public interface ITokenizerFactory
{
    /// <summary><c>&lt;plugin-id&gt;/&lt;name&gt;</c>.</summary>
    string Name { get; }

    /// <summary>One line for humans, with the options it reads.</summary>
    string Description { get; }

    /// <summary>Builds a tokenizer for <paramref name="request"/>.</summary>
    ITokenizer Create(TokenizerRequest request);
}

/// <summary>The tokenizers every loaded plugin registered, by name.</summary>
public interface ITokenizerCatalog
{
    /// <summary>The factory named <paramref name="name"/>, or null when no loaded plugin registered it.</summary>
    ITokenizerFactory? Tokenizer(string name);

    /// <summary>Names of every registered tokenizer.</summary>
    IReadOnlyList<string> TokenizerNames { get; }
}

/// <summary>A component (tokenizer, recipe) that a plugin which is not loaded provides.</summary>
public sealed class MissingComponentException(string kind, string name, string plugin, string detail)
    : ArgumentException($"{kind} '{name}' is not available: it comes from plugin '{plugin}', which is not loaded{detail} (`maskwork plugins` lists the loaded plugins)")
{
    /// <summary>"tokenizer", "recipe".</summary>
    public string Kind { get; } = kind;

    /// <summary>The component's name.</summary>
    public string Name { get; } = name;

    /// <summary>The plugin id the name points at (its prefix before '/').</summary>
    public string Plugin { get; } = plugin;
}

/// <summary>
/// A batch of a <see cref="MultiPartSample"/> batch: one <see cref="TokenBatch"/> per part (its own layout, padding)
/// in <see cref="TokenBatch.Parts"/>. Helpers shared by composite tokenizers, budget maskers and composite encoders.
/// </summary>
public static class TokenParts
{
    /// <summary>Real (non-padding) tokens per sample of <paramref name="part"/> [B] int64.</summary>
    public static Tensor RealCounts(TokenBatch part) => part.Padding is { } pad
        ? pad.logical_not().sum(1, type: ScalarType.Int64)
        : full(part.BatchSize, part.TokenCount, dtype: ScalarType.Int64, device: part.Tokens.device);
}
