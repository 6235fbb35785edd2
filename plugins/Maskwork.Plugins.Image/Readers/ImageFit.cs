namespace Maskwork.Plugins.Image.Readers;

/// <summary>Brings a decoded image to the recipe's size and channel count: channel conversion, shorter side resized (bilinear), centre crop.</summary>
public static class ImageFit
{
    /// <summary>Reader options every image reader honours.</summary>
    public sealed record Target(int Size, int Channels)
    {
        public static Target From(Maskwork.Abstractions.DataSpec spec, int size, int channels)
        {
            int s = int.Parse(spec.Option("size", size.ToString(System.Globalization.CultureInfo.InvariantCulture)), System.Globalization.CultureInfo.InvariantCulture);
            int c = int.Parse(spec.Option("channels", channels.ToString(System.Globalization.CultureInfo.InvariantCulture)), System.Globalization.CultureInfo.InvariantCulture);
            if (s <= 0) throw new ArgumentException($"image size must be positive, got {s}");
            if (c is not (1 or 3)) throw new ArgumentException($"channels must be 1 or 3, got {c}");
            return new Target(s, c);
        }
    }

    /// <summary>
    /// <paramref name="pixels"/> is interleaved HWC bytes with <paramref name="components"/> channels
    /// (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA). Alpha is composited over black. Returns CHW floats in [0,1].
    /// </summary>
    public static float[] Fit(byte[] pixels, int width, int height, int components, Target target)
    {
        int c = target.Channels;
        // 1) to planar float with the target channel count.
        var planes = new float[c * width * height];
        int n = width * height;
        for (int i = 0; i < n; i++)
        {
            int p = i * components;
            float alpha = components is 2 or 4 ? pixels[p + components - 1] / 255f : 1f;
            float r, g, b;
            if (components <= 2) r = g = b = pixels[p] / 255f;
            else { r = pixels[p] / 255f; g = pixels[p + 1] / 255f; b = pixels[p + 2] / 255f; }
            if (c == 1) planes[i] = (0.299f * r + 0.587f * g + 0.114f * b) * alpha;
            else { planes[i] = r * alpha; planes[n + i] = g * alpha; planes[2 * n + i] = b * alpha; }
        }
        if (width == target.Size && height == target.Size) return planes;

        // 2) resize so the shorter side equals Size, then crop the centre square.
        double scale = target.Size / (double)Math.Min(width, height);
        int rw = Math.Max(target.Size, (int)Math.Round(width * scale)), rh = Math.Max(target.Size, (int)Math.Round(height * scale));
        int ox = (rw - target.Size) / 2, oy = (rh - target.Size) / 2;
        var result = new float[c * target.Size * target.Size];
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < target.Size; y++)
            {
                double sy = Math.Clamp((y + oy + 0.5) / rh * height - 0.5, 0, height - 1);
                int y0 = (int)sy, y1 = Math.Min(y0 + 1, height - 1);
                double fy = sy - y0;
                for (int x = 0; x < target.Size; x++)
                {
                    double sx = Math.Clamp((x + ox + 0.5) / rw * width - 0.5, 0, width - 1);
                    int x0 = (int)sx, x1 = Math.Min(x0 + 1, width - 1);
                    double fx = sx - x0;
                    int baseIdx = ch * n;
                    double v = (1 - fy) * ((1 - fx) * planes[baseIdx + y0 * width + x0] + fx * planes[baseIdx + y0 * width + x1])
                             + fy * ((1 - fx) * planes[baseIdx + y1 * width + x0] + fx * planes[baseIdx + y1 * width + x1]);
                    result[(ch * target.Size + y) * target.Size + x] = (float)v;
                }
            }
        return result;
    }
}
