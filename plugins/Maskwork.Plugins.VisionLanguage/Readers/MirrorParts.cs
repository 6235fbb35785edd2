using Maskwork.Abstractions;
using Maskwork.Backend.Data;

namespace Maskwork.Plugins.VisionLanguage.Readers;

/// <summary>
/// MultiMAE's horizontal flip for a multi-part sample: every image part ([C,H,W]: RGB and alpha alike) is mirrored
/// left–right together, with probability 0.5 drawn from the sample's key (seed, epoch, global index; draw 3, beside
/// <see cref="BackgroundRecolour"/>'s 0–2), so the pixels and their silhouette stay aligned and a resumed run sees the
/// same flips. Other parts (the caption) and samples without parts pass unchanged.
/// </summary>
public sealed class MirrorParts(long seed) : ISampleAugment
{
    /// <summary>The key's draw that decides the flip.</summary>
    public const int Draw = 3;

    public IReadOnlyList<Sample> Apply(IReadOnlyList<Sample> batch, long batchIndex) =>
        batch.Select((s, i) => s is MultiPartSample m && SampleRandom.Uniform(SampleRandom.Key(seed, m, batchIndex, i), Draw) < 0.5 ? Mirror(m) : s).ToList();

    /// <summary><paramref name="sample"/> with every [C,H,W] part mirrored along W.</summary>
    public static MultiPartSample Mirror(MultiPartSample sample)
    {
        var parts = new Dictionary<string, Sample>(sample.Parts);
        foreach (var (name, part) in sample.Parts)
        {
            if (part.Shape.Length != 3) continue;
            int w = part.Shape[2], rows = part.Shape[0] * part.Shape[1];
            var values = new float[part.ValueCount];
            part.CopyValuesTo(values);
            for (int r = 0; r < rows; r++) Array.Reverse(values, r * w, w);
            parts[name] = part with { Values = values };
        }
        return new MultiPartSample(parts, sample.Primary, sample.Label, sample.Source) { Split = sample.Split, Index = sample.Index, Epoch = sample.Epoch };
    }
}
