using System.Globalization;
using Maskwork.Abstractions;

namespace Maskwork.Plugins.Video.Readers;

/// <summary>
/// Reader options every video reader honours (<c>--set data.k=v</c>; the recipe fills size, channels, frames
/// and sampling_rate from its model options): frames are resized so the shorter side is <see cref="Size"/> and
/// centre-cropped square, converted to grey or RGB.
/// </summary>
public sealed record VideoReadOptions(int Size, int Channels, int Frames, int SamplingRate, long Seed)
{
    /// <summary>Frames one clip spans in the source: (frames − 1) · sampling_rate + 1.</summary>
    public int Span => (Frames - 1) * SamplingRate + 1;

    public static VideoReadOptions From(DataSpec spec)
    {
        var o = new VideoReadOptions(Int(spec, "size", 64), Int(spec, "channels", 1), Int(spec, "frames", 8), Int(spec, "sampling_rate", 1), Int(spec, "seed", 0));
        if (o.Size <= 0) throw new ArgumentException($"data.size must be positive, got {o.Size}");
        if (o.Channels is not (1 or 3)) throw new ArgumentException($"data.channels must be 1 or 3, got {o.Channels}");
        if (o.Frames <= 0 || o.SamplingRate <= 0) throw new ArgumentException($"data.frames ({o.Frames}) and data.sampling_rate ({o.SamplingRate}) must be positive");
        return o;
    }

    /// <summary>An integer option, or a clear refusal.</summary>
    public static int Int(DataSpec spec, string key, int fallback)
    {
        string text = spec.Option(key, fallback.ToString(CultureInfo.InvariantCulture));
        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v)
            ? v : throw new ArgumentException($"data.{key} must be an integer, got '{text}'");
    }
}
