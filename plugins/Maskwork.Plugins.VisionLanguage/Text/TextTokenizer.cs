using Maskwork.Abstractions;
using Maskwork.Plugins.VisionLanguage.Readers;
using TorchSharp;
using static TorchSharp.torch;

namespace Maskwork.Plugins.VisionLanguage.Text;

/// <summary>
/// Captions (<see cref="TextSample"/>) → compact token ids [B,L,1] int64, truncated or padded to <see cref="Length"/>,
/// with <see cref="TokenBatch.Padding"/> true on padding. <see cref="Detokenize"/> returns the ids [B,L].
/// </summary>
public sealed class TextTokenizer(Vocabulary vocabulary, int length) : ITokenizer
{
    public Vocabulary Vocabulary { get; } = vocabulary;
    public int Length { get; } = length > 0 ? length : throw new ArgumentOutOfRangeException(nameof(length), length, "text length must be positive");
    public SequenceLayout Layout { get; } = new(length);

    /// <summary>Ids of one caption, truncated and padded.</summary>
    public int[] Ids(string text)
    {
        var ids = Vocabulary.Encode(text);
        var row = new int[Length];
        Array.Copy(ids, row, Math.Min(ids.Length, Length));
        return row;
    }

    public TokenBatch Tokenize(IReadOnlyList<Sample> batch, Device device)
    {
        var ids = new long[batch.Count * Length];
        for (int i = 0; i < batch.Count; i++)
        {
            var text = batch[i] as TextSample ?? throw new ArgumentException($"{batch[i].Source}: vl/text tokenizes captions (TextSample), got a {batch[i].GetType().Name}");
            var row = Ids(text.Text);
            for (int j = 0; j < Length; j++) ids[i * Length + j] = row[j];
        }
        var tokens = tensor(ids, [batch.Count, Length, 1], device: device);
        using var pad = ((long)Vocabulary.Pad).ToScalar(); // held: tokenizing runs beside other threads (Held.cs)
        var labels = batch.All(s => s.Label is not null) ? tensor(batch.Select(s => (long)s.Label!.Value).ToArray(), device: device) : null;
        return new TokenBatch(tokens, Layout) { Padding = tokens.squeeze(-1).eq(pad), Labels = labels };
    }

    public Tensor Detokenize(Tensor tokens, TokenBatch like) => tokens.reshape(tokens.shape[0], tokens.shape[1]);
}

/// <summary>
/// <c>vl/text</c>: the caption tokenizer. Its vocabulary comes from option <c>vocab</c> (a vocab.json folder), else the run
/// folder's vocab.json, else — for an ingested dataset (<c>parquet:DIR</c>) — the vocab.json ingest stored with it, else it is
/// built from the training captions of the job's data; either of the last two is saved to the run folder.
/// Options: length (16), lowercase (true).
/// </summary>
public sealed class TextTokenizerFactory : ITokenizerFactory
{
    public string Name => "vl/text";
    public string Description => "captions → GPT-2 BPE ids on a compact vocabulary (vocab.json in the run folder); options length (16), lowercase (true), vocab (folder)";

    public ITokenizer Create(TokenizerRequest request) =>
        new TextTokenizer(VocabularyFor(request.Context, request.Option("vocab", ""), request.Option("lowercase", "true") != "false"), request.Int("length", 16));

    /// <summary>
    /// The run's vocabulary: loaded when saved, else the ingested dataset's (copied into the run folder as it is), else built from
    /// the training captions (and saved when there is a run folder).
    /// </summary>
    public static Vocabulary VocabularyFor(BuildContext context, string folder = "", bool lowercase = true)
    {
        foreach (var f in new[] { folder, context.RunFolder ?? "" })
            if (f.Length > 0 && Vocabulary.Load(f) is { } saved) return saved;
        if (context.Data.Reader == "parquet") return Ingested(context, lowercase);
        var captions = CaptionIndex.Captions(context.Data);
        if (captions.Count == 0) throw new ArgumentException($"vl/text: {context.Data} has no training captions to build a vocabulary from");
        var vocabulary = Vocabulary.Build(captions, lowercase);
        if (context.RunFolder is { Length: > 0 } run) vocabulary.Save(run);
        return vocabulary;
    }

    /// <summary>The vocabulary <c>maskwork ingest</c> built from the training captions and stored with the dataset; copied byte for byte into the run folder.</summary>
    static Vocabulary Ingested(BuildContext context, bool lowercase)
    {
        string dataset = context.Data.Path, path = Path.Combine(dataset, Vocabulary.FileName);
        if (!File.Exists(path)) throw new ArgumentException(
            $"vl/text: the dataset {dataset} has no {Vocabulary.FileName} (it was ingested before Maskwork 1.2, or not from a captioned-image reader): " +
            "ingest it again with `maskwork ingest --reader tuxpaint-stamps|emoji|image-text --in <path> --out <dataset>`");
        byte[] json = File.ReadAllBytes(path); // read once: parsed here, copied byte for byte into the run folder below
        var vocabulary = Vocabulary.Parse(json, path);
        if (vocabulary.Lowercase != lowercase)
            throw new ArgumentException($"vl/text: the dataset's {Vocabulary.FileName} was built with lowercase={vocabulary.Lowercase.ToString().ToLowerInvariant()}, the tokenizer asks for lowercase={lowercase.ToString().ToLowerInvariant()}: use the dataset's setting or give a vocabulary folder (tokenizer option vocab)");
        if (context.RunFolder is { Length: > 0 } run) Vocabulary.SaveFile(run, json);
        return vocabulary;
    }
}
