using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.Tokenizers;

namespace Maskwork.Plugins.VisionLanguage.Text;

/// <summary>
/// GPT-2 byte-level BPE (Microsoft.ML.Tokenizers, offline data package) with its ids remapped to a compact vocabulary:
/// the four specials, then every GPT-2 id the training captions use, ascending. A caption id outside it becomes [UNK].
/// Saved as <c>vocab.json</c> in the run folder so a checkpoint always decodes its own tokens.
/// </summary>
public sealed class Vocabulary
{
    public const int Pad = 0, Unk = 1, Mask = 2, Cls = 3, Specials = 4;
    public static readonly string[] SpecialNames = ["[PAD]", "[UNK]", "[MASK]", "[CLS]"];
    public const string FileName = "vocab.json";

    static readonly Lazy<Tokenizer> Gpt2 = new(() => TiktokenTokenizer.CreateForModel("gpt2"));
    readonly int[] baseIds;
    readonly Dictionary<int, int> compact;

    Vocabulary(int[] baseIds, bool lowercase)
    {
        this.baseIds = baseIds;
        Lowercase = lowercase;
        compact = new Dictionary<int, int>(baseIds.Length);
        for (int i = 0; i < baseIds.Length; i++) compact[baseIds[i]] = Specials + i;
    }

    /// <summary>Specials plus caption pieces.</summary>
    public int Size => Specials + baseIds.Length;

    /// <summary>Whether captions are lower-cased before BPE.</summary>
    public bool Lowercase { get; }

    /// <summary>The vocabulary of <paramref name="captions"/> (the training split's).</summary>
    public static Vocabulary Build(IEnumerable<string> captions, bool lowercase = true)
    {
        var ids = new SortedSet<int>();
        foreach (var c in captions) foreach (int id in Gpt2.Value.EncodeToIds(Prepare(c, lowercase))) ids.Add(id);
        return new Vocabulary(ids.ToArray(), lowercase);
    }

    static string Prepare(string text, bool lowercase) => lowercase ? text.Trim().ToLowerInvariant() : text.Trim();

    /// <summary>Compact ids of <paramref name="text"/> (no specials added).</summary>
    public int[] Encode(string text) => Gpt2.Value.EncodeToIds(Prepare(text, Lowercase)).Select(id => compact.TryGetValue(id, out int c) ? c : Unk).ToArray();

    /// <summary>Text of compact ids; specials other than padding are written by name, padding is dropped.</summary>
    public string Decode(IEnumerable<int> ids)
    {
        var text = new System.Text.StringBuilder();
        var run = new List<int>();
        void Flush() { if (run.Count > 0) { text.Append(Gpt2.Value.Decode(run)); run.Clear(); } }
        foreach (int id in ids)
        {
            if (id == Pad) continue;
            if (id < Specials || id >= Size) { Flush(); text.Append(id < Specials ? SpecialNames[id] : "[?]"); continue; }
            run.Add(baseIds[id - Specials]);
        }
        Flush();
        return text.ToString();
    }

    /// <summary>One token's text (a word piece with its leading space, or a special's name).</summary>
    public string Piece(int id) => id < Specials ? SpecialNames[id] : id < Size ? Gpt2.Value.Decode([baseIds[id - Specials]]) ?? "" : "[?]";

    /// <summary>The contents of <c>vocab.json</c>.</summary>
    public byte[] ToJson() => System.Text.Encoding.UTF8.GetBytes(new JsonObject
    {
        ["format"] = 1, ["base"] = "gpt2", ["lowercase"] = Lowercase,
        ["specials"] = new JsonArray(SpecialNames.Select(s => (JsonNode)s).ToArray()),
        ["base_ids"] = new JsonArray(baseIds.Select(i => (JsonNode)i).ToArray()),
    }.ToJsonString());

    /// <summary>Writes <c>vocab.json</c> into <paramref name="folder"/> atomically.</summary>
    public string Save(string folder) => SaveFile(folder, ToJson());

    /// <summary>Writes <paramref name="json"/> (a vocabulary's, as read from a dataset) as <c>vocab.json</c> into <paramref name="folder"/> atomically.</summary>
    public static string SaveFile(string folder, byte[] json)
    {
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, FileName), temp = path + ".tmp";
        File.WriteAllBytes(temp, json);
        File.Move(temp, path, overwrite: true);
        return path;
    }

    /// <summary>The vocabulary saved in <paramref name="folder"/>, or null when there is none.</summary>
    public static Vocabulary? Load(string folder)
    {
        string path = Path.Combine(folder, FileName);
        return File.Exists(path) ? Parse(File.ReadAllBytes(path), path) : null;
    }

    /// <summary>The vocabulary in <paramref name="json"/>, the bytes of a vocab.json read from <paramref name="path"/> (named in errors).</summary>
    public static Vocabulary Parse(byte[] json, string path)
    {
        try
        {
            // A hand-edited file may start with a UTF-8 byte-order mark, which File.ReadAllText would have dropped.
            ReadOnlySpan<byte> utf8 = json.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? json.AsSpan(3) : json;
            var root = JsonNode.Parse(utf8)!.AsObject();
            if ((int?)root["format"] != 1 || (string?)root["base"] != "gpt2") throw new InvalidDataException("unknown format or base tokenizer");
            var ids = root["base_ids"]!.AsArray().Select(n => (int)n!).ToArray();
            if (ids.Any(i => i < 0) || ids.Zip(ids.Skip(1)).Any(p => p.First >= p.Second)) throw new InvalidDataException("base_ids must be ascending non-negative ids");
            return new Vocabulary(ids, (bool?)root["lowercase"] ?? true);
        }
        catch (Exception e) when (e is JsonException or InvalidDataException or InvalidOperationException or NullReferenceException or FormatException)
        {
            throw new InvalidDataException($"{path}: not a vocabulary this plugin wrote ({e.Message}); delete it to rebuild from the data", e);
        }
    }
}
