using System.Globalization;
using Maskwork.Abstractions;

namespace Maskwork.Plugins.VisionLanguage.Recipes;

/// <summary>The options every image–caption recipe has: the image it reads, the caption length and the tokenizers it composes.</summary>
public interface IImageTextOptions
{
    /// <summary>Square image side in pixels (the readers' <c>data.size</c>).</summary>
    int Size { get; }
    /// <summary>Patch side in pixels.</summary>
    int Patch { get; }
    /// <summary>Per-channel mean of the RGB tokenizer.</summary>
    float[] Mean { get; }
    /// <summary>Per-channel standard deviation of the RGB tokenizer.</summary>
    float[] Std { get; }
    /// <summary>Caption tokens per sample.</summary>
    int TextLength { get; }
    /// <summary>The image tokenizer's registered name (<c>image/patches</c>).</summary>
    string ImageTokenizer { get; }
    /// <summary>The caption tokenizer's registered name (<c>vl/text</c>).</summary>
    string TextTokenizer { get; }
}

/// <summary>
/// What <c>vl/m3ae</c> and <c>vl/multimae</c> share: the default data (Tux Paint stamps), the training defaults for 2 CPU
/// cores, the reader options that follow from the image size, and the RGB and caption tokenizers resolved by name through
/// the registry (a missing plugin is named).
/// </summary>
public abstract class ImageTextRecipe<TOptions> : IRecipe where TOptions : class, IImageTextOptions, new()
{
    public abstract string Name { get; }
    public abstract string Description { get; }
    public string DefaultData => "tuxpaint-stamps";
    public Type OptionsType => typeof(TOptions);
    public object DefaultOptions { get; } = new TOptions();

    public TrainOptions Training { get; } = new()
    {
        Steps = 1500, Batch = 64, BaseLr = 2e-3, WarmupSteps = 100, WeightDecay = 0.05, Beta1 = 0.9, Beta2 = 0.95,
        ClipGrad = 1.0, CheckpointEvery = 250, LogEvery = 10,
    };

    public IReadOnlyDictionary<string, string> DataOptions(object options) => new Dictionary<string, string>
    {
        ["size"] = ((TOptions)options).Size.ToString(CultureInfo.InvariantCulture),
    };

    public ModelParts Build(object options, BuildContext context) => Build((TOptions)options, context);

    /// <summary>Builds the parts from resolved options.</summary>
    protected abstract ModelParts Build(TOptions options, BuildContext context);

    /// <summary>The RGB patch tokenizer (size, patch, mean, std of <paramref name="o"/>).</summary>
    public static ITokenizer RgbTokenizer(IImageTextOptions o, BuildContext context)
    {
        var inv = CultureInfo.InvariantCulture;
        return context.Tokenizer(o.ImageTokenizer, new Dictionary<string, string>
        {
            ["size"] = o.Size.ToString(inv), ["channels"] = "3", ["patch"] = o.Patch.ToString(inv),
            ["mean"] = string.Join(',', o.Mean.Select(v => v.ToString(inv))), ["std"] = string.Join(',', o.Std.Select(v => v.ToString(inv))),
        });
    }

    /// <summary>The caption tokenizer (<see cref="IImageTextOptions.TextLength"/> tokens).</summary>
    public static ITokenizer CaptionTokenizer(IImageTextOptions o, BuildContext context) =>
        context.Tokenizer(o.TextTokenizer, new Dictionary<string, string> { ["length"] = o.TextLength.ToString(CultureInfo.InvariantCulture) });
}
