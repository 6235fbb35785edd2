using Maskwork.Abstractions;
using Maskwork.Backend.Tokenization;
using Maskwork.Plugins.VisionLanguage.Readers;
using Maskwork.Plugins.VisionLanguage.Recipes;
using Maskwork.Plugins.VisionLanguage.Text;
using static TorchSharp.torch;

namespace Maskwork.Plugins.VisionLanguage.Tests;

public class TokenizerTests
{
    static readonly DataSpec Tux = new("tuxpaint-stamps", "");

    [Fact]
    public void CaptionsRoundTripThroughTheCompactVocabulary()
    {
        var captions = CaptionIndex.Captions(Tux);
        Assert.True(captions.Count > 500, $"{captions.Count} training captions");
        var cased = Vocabulary.Build(captions, lowercase: false);
        foreach (var c in captions) Assert.Equal(c.Trim(), cased.Decode(cased.Encode(c)));
        var lower = Vocabulary.Build(captions);
        Assert.True(lower.Size < cased.Size, "lower-casing should shrink the vocabulary");
        Assert.InRange(lower.Size, 500, 5000);
        foreach (var c in captions.Take(50)) Assert.Equal(c.Trim().ToLowerInvariant(), lower.Decode(lower.Encode(c)));
        // A word the training captions never use becomes [UNK].
        Assert.Contains(Vocabulary.Unk, lower.Encode("zxqvj"));
    }

    [Fact]
    public void VocabularyIsSavedInTheRunFolderAndReusedNotRebuilt()
    {
        var run = Path.Combine(Path.GetTempPath(), "mw-vl-run-" + Guid.NewGuid().ToString("N")[..8]);
        var context = new BuildContext(CPU, Tux with { Split = "train" }) { RunFolder = run };
        var built = TextTokenizerFactory.VocabularyFor(context);
        Assert.True(File.Exists(Path.Combine(run, "vocab.json")));
        // Resume or probe on other data reads the saved file: same ids, no rebuild from the (different) data.
        var other = new BuildContext(CPU, new DataSpec("image-text", "/nonexistent")) { RunFolder = run };
        var loaded = TextTokenizerFactory.VocabularyFor(other);
        Assert.Equal(built.Size, loaded.Size);
        Assert.Equal(built.Encode("a red fire truck"), loaded.Encode("a red fire truck"));
        Directory.Delete(run, true);
    }

    [Fact]
    public void AVocabularyFileSavedWithAByteOrderMarkStillLoads()
    {
        var run = Path.Combine(Path.GetTempPath(), "mw-vl-bom-" + Guid.NewGuid().ToString("N")[..8]);
        var vocabulary = Vocabulary.Build(["a cat sat on the mat", "a dog"]);
        string path = vocabulary.Save(run);
        File.WriteAllBytes(path, [0xEF, 0xBB, 0xBF, .. File.ReadAllBytes(path)]);
        var loaded = Vocabulary.Load(run)!;
        Assert.Equal(vocabulary.Encode("a dog sat"), loaded.Encode("a dog sat"));
        // Garbage still names the file.
        File.WriteAllText(path, "{ not json");
        var e = Assert.Throws<InvalidDataException>(() => Vocabulary.Load(run));
        Assert.Contains(path, e.Message);
        Directory.Delete(run, true);
    }

    [Fact]
    public void TextTokenizerTruncatesPadsAndMarksPadding()
    {
        using var scope = NewDisposeScope();
        var vocabulary = Vocabulary.Build(["a cat sat on the mat", "a dog"]);
        var tokenizer = new TextTokenizer(vocabulary, 4);
        var batch = tokenizer.Tokenize([new TextSample("a cat sat on the mat", 0, "x"), new TextSample("a dog", 1, "y")], CPU);
        Assert.Equal([2L, 4, 1], batch.Tokens.shape);
        Assert.Equal(new[] { false, false, false, false, false, false, true, true }, batch.Padding!.data<bool>().ToArray());
        Assert.Equal("a cat sat on", vocabulary.Decode(batch.Tokens[0].squeeze(-1).data<long>().ToArray().Select(v => (int)v)));
    }

    [Fact]
    public void ARecipeNamingATokenizerOfAMissingPluginFailsNamingIt()
    {
        // Only vl's own tokenizer is registered: image/patches (the image plugin's) is missing.
        var context = new BuildContext(CPU, Tux) { Tokenizers = new Catalog(new TextTokenizerFactory()) };
        var e = Assert.Throws<MissingComponentException>(() => new M3aeRecipe().Build(new M3aeOptions(), context));
        Assert.Contains("'image/patches'", e.Message);
        Assert.Contains("plugin 'image'", e.Message);
        Assert.Equal("image", e.Plugin);
        // A tokenizer named in the options, from a plugin nobody loaded.
        var other = Assert.Throws<MissingComponentException>(() => new M3aeRecipe().Build(new M3aeOptions { ImageTokenizer = "points/groups" }, context with { Tokenizers = Catalog.Both }));
        Assert.Contains("plugin 'points'", other.Message);
        Assert.Contains("registered tokenizers: image/patches, vl/text", other.Message);
    }

    [Fact]
    public void PartsTokenizerTokenizesEachPartWithItsRegisteredTokenizer()
    {
        using var scope = NewDisposeScope();
        var context = new BuildContext(CPU, Tux) { Tokenizers = Catalog.Both };
        var tokenizer = M3aeRecipe.Tokenizers(new M3aeOptions(), context);
        var samples = Stamps.Read(new DataSpec("tuxpaint-stamps", Stamps.Root) { Split = "test" }, new()).Take(3).ToList();
        var batch = tokenizer.Tokenize(samples, CPU);
        Assert.Equal([3L, 64, 48], batch.Tokens.shape); // the primary part (image) is the batch's own
        Assert.Equal([3L, 16, 1], batch.Parts!["text"].Tokens.shape);
        Assert.IsType<GridTokenizer>(tokenizer["image"]);
        // Detokenize inverts the image part exactly.
        var image = tokenizer.Detokenize(batch.Tokens, batch);
        var expected = ((MultiPartSample)samples[0]).Parts["image"].Values;
        Assert.Equal(expected, image[0].reshape(-1).data<float>().ToArray(), new FloatTolerance(1e-5f));
        // A single-part sample is refused with the reason.
        var e = Assert.Throws<ArgumentException>(() => tokenizer.Tokenize([((MultiPartSample)samples[0]).Part("image")], CPU));
        Assert.Contains("data.part", e.Message);
    }

    sealed class FloatTolerance(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float a, float b) => Math.Abs(a - b) <= tolerance;
        public int GetHashCode(float v) => 0;
    }
}
