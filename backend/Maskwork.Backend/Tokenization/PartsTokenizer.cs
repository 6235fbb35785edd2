using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using static TorchSharp.torch;

namespace Maskwork.Backend.Tokenization;

/// <summary>
/// Tokenizes batches of <see cref="MultiPartSample"/>s part by part, each part with the tokenizer named for it
/// (typically resolved from the registry: <c>image/patches</c>, <c>vl/text</c>). The result is the primary part's
/// batch with every part's batch in <see cref="TokenBatch.Parts"/>; <see cref="Detokenize"/> inverts the primary part.
/// </summary>
public sealed class PartsTokenizer : ITokenizer
{
    readonly (string Name, ITokenizer Tokenizer)[] parts;

    /// <param name="parts">Part name → tokenizer, in the order the model concatenates them.</param>
    /// <param name="primary">The part whose tokens the composite batch carries as its own.</param>
    public PartsTokenizer(IReadOnlyList<(string Name, ITokenizer Tokenizer)> parts, string primary)
    {
        if (parts.Count == 0) throw new ArgumentException("a parts tokenizer needs at least one part");
        if (parts.Select(p => p.Name).Distinct(StringComparer.Ordinal).Count() != parts.Count) throw new ArgumentException("part names must be distinct");
        if (!parts.Any(p => p.Name == primary)) throw new ArgumentException($"primary part '{primary}' is not one of {string.Join(", ", parts.Select(p => p.Name))}");
        this.parts = parts.ToArray();
        Primary = primary;
    }

    /// <summary>The part whose tokens the composite batch carries.</summary>
    public string Primary { get; }

    /// <summary>Part names in model order.</summary>
    public IReadOnlyList<string> Names => parts.Select(p => p.Name).ToList();

    /// <summary>The tokenizer of part <paramref name="name"/>.</summary>
    public ITokenizer this[string name] => parts.First(p => p.Name == name).Tokenizer;

    /// <summary>
    /// A training-time transform of whole samples before their parts are tokenized, for what needs several parts at once
    /// (recolouring an image's background under its silhouette); the data pipeline's contract, so its draws come from
    /// each sample's key (<see cref="SampleRandom"/>). Runs while <see cref="AugmentWhile"/> says so.
    /// </summary>
    public ISampleAugment? Augment { get; set; }

    /// <summary>Whether to run <see cref="Augment"/> now (a recipe ties it to the encoder's training mode).</summary>
    public Func<bool> AugmentWhile { get; set; } = () => true;

    public TokenBatch Tokenize(IReadOnlyList<Sample> batch, Device device)
    {
        if (Augment is not null && AugmentWhile()) batch = Augment.Apply(batch, 0);
        var multi = new MultiPartSample[batch.Count];
        for (int i = 0; i < batch.Count; i++)
            multi[i] = batch[i] as MultiPartSample ?? throw new ArgumentException(
                $"{batch[i].Source}: a {batch[i].GetType().Name} has no parts; this recipe needs samples with parts {string.Join(", ", Names)} (leave data.part unset)");
        var byName = new Dictionary<string, TokenBatch>(StringComparer.Ordinal);
        foreach (var (name, tokenizer) in parts)
            byName[name] = tokenizer.Tokenize(multi.Select(s => s.Part(name)).ToList(), device);
        return byName[Primary] with { Parts = byName };
    }

    public Tensor Detokenize(Tensor tokens, TokenBatch like) =>
        this[Primary].Detokenize(tokens, like.Parts is { } p && p.TryGetValue(Primary, out var primary) ? primary : like);
}
