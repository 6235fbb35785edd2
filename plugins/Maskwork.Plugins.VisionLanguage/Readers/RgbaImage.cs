using Maskwork.Backend.Data;
using StbImageSharp;

namespace Maskwork.Plugins.VisionLanguage.Readers;

/// <summary>
/// Decodes PNG/JPEG with StbImageSharp (the decoder the image plugin uses) to RGBA, fits it into a size×size square
/// (area-averaged, premultiplied, letterboxed so nothing is cropped) and composites it on a background colour drawn per
/// sample from (seed, file), so a model cannot read the alpha channel off the RGB values.
/// </summary>
public static class RgbaImage
{
    /// <summary>RGB [3,S,S] composited and alpha [1,S,S], both in [0,1], or why the file cannot be used.</summary>
    public static (float[]? Rgb, float[]? Alpha, string? Error) Load(string file, int size, long seed)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(file); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return (null, null, $"cannot read: {e.Message}"); }
        if (Validate(bytes) is { } problem) return (null, null, problem);
        ImageResult image;
        try { image = ImageResult.FromMemory(bytes, ColorComponents.RedGreenBlueAlpha); }
        catch (Exception e) { return (null, null, $"cannot decode image: {e.Message}"); }
        if (image.Width <= 0 || image.Height <= 0 || image.Data.Length < image.Width * image.Height * 4) return (null, null, "decoded image is empty");
        var (premult, alpha) = Fit(image.Data, image.Width, image.Height, size);
        var bg = Background(file, seed);
        int n = size * size;
        var rgb = new float[3 * n];
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < n; i++) rgb[c * n + i] = Math.Clamp(premult[c * n + i] + (1 - alpha[i]) * bg[c], 0f, 1f);
        return (rgb, alpha, null);
    }

    /// <summary>The background colour of <paramref name="file"/> under <paramref name="seed"/>.</summary>
    public static float[] Background(string file, long seed)
    {
        ulong h = 1469598103934665603UL;
        foreach (char c in Path.GetFileName(file)) h = (h ^ c) * 1099511628211UL;
        long key = (long)(h & long.MaxValue);
        return [.. Enumerable.Range(0, 3).Select(c => (SeedMix.Of(seed, key, c) % 1000) / 999f)];
    }

    /// <summary>Premultiplied RGB [3,S,S] and alpha [S,S]: the image scaled so its longer side is S, centred, each target pixel the area average of its footprint.</summary>
    static (float[] Premult, float[] Alpha) Fit(byte[] rgba, int w, int h, int size)
    {
        double scale = size / (double)Math.Max(w, h);
        double sw = w * scale, sh = h * scale, ox = (size - sw) / 2, oy = (size - sh) / 2;
        int n = size * size;
        var premult = new float[3 * n];
        var alpha = new float[n];
        for (int ty = 0; ty < size; ty++)
        {
            double y0 = (ty - oy) / scale, y1 = (ty + 1 - oy) / scale;
            for (int tx = 0; tx < size; tx++)
            {
                double x0 = (tx - ox) / scale, x1 = (tx + 1 - ox) / scale;
                double r = 0, g = 0, b = 0, a = 0, area = (x1 - x0) * (y1 - y0);
                for (int sy = Math.Max(0, (int)Math.Floor(y0)); sy < Math.Min(h, (int)Math.Ceiling(y1)); sy++)
                {
                    double wy = Math.Min(y1, sy + 1) - Math.Max(y0, sy);
                    for (int sx = Math.Max(0, (int)Math.Floor(x0)); sx < Math.Min(w, (int)Math.Ceiling(x1)); sx++)
                    {
                        double wgt = wy * (Math.Min(x1, sx + 1) - Math.Max(x0, sx));
                        int p = (sy * w + sx) * 4;
                        double al = rgba[p + 3] / 255.0 * wgt;
                        r += rgba[p] / 255.0 * al; g += rgba[p + 1] / 255.0 * al; b += rgba[p + 2] / 255.0 * al; a += al;
                    }
                }
                int i = ty * size + tx;
                premult[i] = (float)(r / area); premult[n + i] = (float)(g / area); premult[2 * n + i] = (float)(b / area);
                alpha[i] = (float)Math.Clamp(a / area, 0, 1);
            }
        }
        return (premult, alpha);
    }

    /// <summary>Container checks the decoder is lenient about: signatures, PNG IEND, JPEG EOI (truncation).</summary>
    static string? Validate(byte[] b)
    {
        ReadOnlySpan<byte> png = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
        if (b.Length >= 8 && b.AsSpan(0, 8).SequenceEqual(png))
            return b.AsSpan(Math.Max(0, b.Length - 64)).IndexOf("IEND"u8) >= 0 ? null : "truncated PNG (no IEND chunk)";
        if (b.Length >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF)
        {
            var tail = b.AsSpan(Math.Max(0, b.Length - 64));
            for (int i = tail.Length - 2; i >= 0; i--) if (tail[i] == 0xFF && tail[i + 1] == 0xD9) return null;
            return "truncated JPEG (no end-of-image marker)";
        }
        return "not a PNG or JPEG file (unknown signature)";
    }
}
