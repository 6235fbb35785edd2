using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Training;
using Maskwork.Plugins.Image.Tokenizers;
using Maskwork.Plugins.VisionLanguage.Readers;
using Maskwork.Plugins.VisionLanguage.Text;

namespace Maskwork.Plugins.VisionLanguage.Tests;

/// <summary>A tokenizer catalog of the given factories (what the host's registry is for a recipe).</summary>
sealed class Catalog(params ITokenizerFactory[] factories) : ITokenizerCatalog
{
    public ITokenizerFactory? Tokenizer(string name) => factories.FirstOrDefault(f => f.Name == name);
    public IReadOnlyList<string> TokenizerNames => factories.Select(f => f.Name).ToList();
    public static Catalog Both => new(new PatchTokenizerFactory(), new TextTokenizerFactory());
}

static class Stamps
{
    public static string Root => CaptionIndex.TuxPaintRoot;

    public static List<Sample> Read(DataSpec spec, DataIssueLog issues)
    {
        var reader = new CaptionedImageReader(spec.Reader, "");
        var list = new List<Sample>();
        var e = reader.ReadAsync(spec, issues, CancellationToken.None).GetAsyncEnumerator();
        while (e.MoveNextAsync().AsTask().GetAwaiter().GetResult()) list.Add(e.Current);
        return list;
    }

    /// <summary>A temporary copy of <paramref name="count"/> captioned stamps of one category folder.</summary>
    public static string Copy(string category, int count)
    {
        var dir = Path.Combine(Path.GetTempPath(), "mw-vl-" + Guid.NewGuid().ToString("N")[..8]);
        var pngs = Directory.EnumerateFiles(Path.Combine(Root, category), "*.png", SearchOption.AllDirectories)
            .Where(f => File.Exists(Path.ChangeExtension(f, ".txt"))).Order(StringComparer.Ordinal).Take(count).ToList();
        foreach (var png in pngs)
        {
            var target = Path.Combine(dir, category, Path.GetFileName(png));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(png, target);
            File.Copy(Path.ChangeExtension(png, ".txt"), Path.ChangeExtension(target, ".txt"));
        }
        return dir;
    }
}

/// <summary>
/// What the vl/m3ae and vl/multimae model tests share: 32 training stamps at 16×16, a build context over both
/// plugins' tokenizers, the short learning check and the encode/render checks.
/// </summary>
static class Models
{
    public static readonly DataSpec Spec = new("tuxpaint-stamps", "") { Split = "train", Options = new Dictionary<string, string> { ["size"] = "16" } };
    static readonly Lazy<List<Sample>> samples = new(() => Stamps.Read(Spec, new()).Take(32).ToList());

    /// <summary>The first 32 training stamps, read once.</summary>
    public static List<Sample> Samples => samples.Value;

    /// <summary>A build context over <paramref name="catalog"/> (default: the image and vl tokenizers).</summary>
    public static BuildContext Context(ITokenizerCatalog? catalog = null) => new(TorchSharp.torch.CPU, Spec) { Tokenizers = catalog ?? Catalog.Both };

    /// <summary>
    /// 60 AdamW steps (lr 3e-3) on <see cref="Samples"/>: every loss finite, every reconstruction [32,16,48], and the mean of the
    /// last 5 losses below 0.8 × the first 5. <paramref name="check"/> adds a recipe's own checks of each step's tokens, plan and result.
    /// </summary>
    public static void LossFalls(ModelParts parts, MaskedModel model, Action<TokenBatch, MaskPlan, ObjectiveResult>? check = null)
    {
        var optimizer = TorchSharp.torch.optim.AdamW(model.parameters(), lr: 3e-3);
        double first = 0, last = 0;
        for (int step = 0; step < 60; step++)
        {
            using var scope = TorchSharp.torch.NewDisposeScope();
            var tokens = parts.Tokenizer.Tokenize(Samples, TorchSharp.torch.CPU) with { SampleKeys = TorchSharp.torch.arange(32L) };
            var plan = parts.Masker.Plan(tokens, new MaskContext(step, new TorchSharp.torch.Generator((ulong)step)) { Seed = 1 });
            var result = model.Forward(tokens, plan);
            optimizer.zero_grad();
            result.Loss.backward();
            optimizer.step();
            double loss = result.Loss.item<float>();
            Assert.True(double.IsFinite(loss));
            Assert.Equal([32L, 16, 48], result.Reconstruction!.shape);
            check?.Invoke(tokens, plan, result);
            if (step < 5) first += loss / 5;
            if (step >= 55) last += loss / 5;
        }
        Assert.True(last < 0.8 * first, $"loss {first:F3} → {last:F3}");
    }

    /// <summary>A probe's plan (no parts) encodes the image alone, 16 patches of width 32; the reconstruction picture renders.</summary>
    public static void EncodesTheImageAloneAndRenders(ModelParts parts, MaskedModel model, TokenBatch two)
    {
        Assert.Equal([2L, 16, 32], parts.Encoder.Encode(two, MaskPlan.None(2, two.TokenCount, TorchSharp.torch.CPU)).Latent.shape);
        var keyed = two with { SampleKeys = TorchSharp.torch.arange(2L) };
        var plan = parts.Masker.Plan(keyed, new MaskContext(0, new TorchSharp.torch.Generator(0)) { Seed = 1 });
        var r = model.Forward(keyed, plan);
        var (h, w, rgb) = parts.Renderer!.Render(keyed, plan, r.Reconstruction!, parts.Tokenizer);
        Assert.True(h > 0 && w > 0);
        Assert.Equal(h * w * 3, rgb.Length);
    }
}
