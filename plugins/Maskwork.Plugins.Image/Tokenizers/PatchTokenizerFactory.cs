using System.Globalization;
using Maskwork.Abstractions;
using Maskwork.Backend.Tokenization;

namespace Maskwork.Plugins.Image.Tokenizers;

/// <summary>
/// <c>image/patches</c>: square images [C,S,S] cut into p×p patches (the backend grid tokenizer), for recipes of other
/// plugins that compose images (vl/m3ae). Options: size, channels, patch, mean and std (comma-separated per channel).
/// </summary>
public sealed class PatchTokenizerFactory : ITokenizerFactory
{
    public string Name => "image/patches";
    public string Description => "square images in p×p patches; options size (32), channels (3), patch (4), mean, std (comma-separated)";

    public ITokenizer Create(TokenizerRequest request)
    {
        int size = request.Int("size", 32), channels = request.Int("channels", 3), patch = request.Int("patch", 4);
        float[] Floats(string key, float fallback) => request.Option(key, "").Length == 0 ? [fallback]
            : request.Option(key, "").Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        return GridTokenizer.Image(patch, channels, size, Floats("mean", 0.5f), Floats("std", 0.25f));
    }
}
