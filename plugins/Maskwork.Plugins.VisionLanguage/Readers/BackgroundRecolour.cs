using Maskwork.Abstractions;
using Maskwork.Backend.Data;

namespace Maskwork.Plugins.VisionLanguage.Readers;

/// <summary>
/// A training-time augmentation of an image–silhouette pair: the RGB is recomposited on a new background colour drawn
/// from the sample's key (seed, epoch, global index), so each epoch shows the same cut-out on another colour. The
/// readers composite once per file, and 1,500 steps over a few hundred stamps then let a model memorise each stamp's
/// silhouette instead of learning to read it off the colour contrast (MultiMAE's silhouette-from-RGB evaluation).
/// The old colour is the RGB of any pixel whose alpha is 0 (exactly the background there); a sample with no such
/// pixel shows no background and is returned unchanged, as are samples without both parts.
/// </summary>
public sealed class BackgroundRecolour(long seed) : ISampleAugment
{
    public IReadOnlyList<Sample> Apply(IReadOnlyList<Sample> batch, long batchIndex) =>
        batch.Select((s, i) => s is MultiPartSample m ? Apply(m, seed, i, batchIndex) : s).ToList();

    /// <summary><paramref name="sample"/> (parts <c>image</c> [3,S,S] and <c>alpha</c> [1,S,S], in [0,1]) on the colour its key draws.</summary>
    public static MultiPartSample Apply(MultiPartSample sample, long seed, int position, long batchIndex = 0)
    {
        if (!sample.Parts.TryGetValue("image", out var image) || !sample.Parts.TryGetValue("alpha", out var alphaPart)) return sample;
        int n = (int)alphaPart.ValueCount;
        if (image.ValueCount != 3L * n) return sample;
        var alpha = new float[n];
        alphaPart.CopyValuesTo(alpha);
        int clear = Array.FindIndex(alpha, a => a <= 0);
        if (clear < 0) return sample;
        var rgb = new float[3 * n];
        image.CopyValuesTo(rgb);
        long key = SampleRandom.Key(seed, sample, batchIndex, position);
        for (int c = 0; c < 3; c++)
        {
            float shift = (float)SampleRandom.Uniform(key, c) - rgb[c * n + clear];
            for (int i = 0; i < n; i++) rgb[c * n + i] = Math.Clamp(rgb[c * n + i] + (1 - alpha[i]) * shift, 0f, 1f);
        }
        var parts = new Dictionary<string, Sample>(sample.Parts) { ["image"] = image with { Values = rgb } };
        return new MultiPartSample(parts, sample.Primary, sample.Label, sample.Source) { Split = sample.Split, Index = sample.Index, Epoch = sample.Epoch };
    }
}
