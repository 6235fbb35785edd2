using Maskwork.Abstractions;
using Maskwork.Plugins.VisionLanguage.Readers;
using Maskwork.Plugins.VisionLanguage.Recipes;
using Maskwork.Plugins.VisionLanguage.Text;

namespace Maskwork.Plugins.VisionLanguage;

/// <summary>Language–vision: captioned-image readers, the <c>vl/text</c> caption tokenizer, M3AE and MultiMAE.</summary>
public sealed class VisionLanguagePlugin : IModalityPlugin
{
    public PluginInfo Info { get; } = new("vl", typeof(VisionLanguagePlugin).Assembly.GetName().Version?.ToString(3) ?? "0.0.0",
        "Language–vision: Tux Paint stamps, Google emoji and image-text pairs (image, alpha, caption parts), GPT-2 BPE captions on a compact vocabulary, M3AE, MultiMAE (RGB + alpha + caption).");

    public void Register(IComponentRegistry registry)
    {
        registry.AddReader(new CaptionedImageReader("tuxpaint-stamps",
            "Tux Paint stamps (Debian tuxpaint-stamps-default, /usr/share/tuxpaint/stamps): PNG + first line of the same-named .txt, category = top folder; parts image, alpha, text (data.part=image for image recipes)"));
        registry.AddReader(new CaptionedImageReader("emoji",
            $"Google emoji (npm {EmojiPackage.Name} {EmojiPackage.Version}, fetched once by {EmojiPackage.FetchCommand}): 64x64 RGBA PNGs, caption = the emoji's name, label = category (data.label=subcategory), split by short name; parts image, alpha, text"));
        registry.AddReader(new CaptionedImageReader("image-text",
            "images with captions: a folder of images with same-named .txt files, or a CSV (path,caption[,category]) / JSONL list; parts image, alpha, text"));
        registry.AddTokenizer(new TextTokenizerFactory());
        registry.AddRecipe(new M3aeRecipe());
        registry.AddRecipe(new MultiMaeRecipe());
    }
}
