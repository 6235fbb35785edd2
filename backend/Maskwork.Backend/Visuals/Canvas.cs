using SkiaSharp;

namespace Maskwork.Backend.Visuals;

/// <summary>
/// The 1.x raster canvas, kept for plugins built against 1.0–1.1 (removed in 2.0). Pixels stay a plain RGB
/// buffer as before; lines, text and PNG encoding now go through SkiaSharp with the run pictures' font.
/// New code composes pictures with <see cref="Sheet"/> and <see cref="RgbImage"/>.
/// </summary>
[Obsolete("Use Sheet / RgbImage (Maskwork.Backend.Visuals); Canvas is removed in 2.0.")]
public sealed class Canvas
{
    const float BaseTextSize = 9f;   // the 1.x font was 5×7 pixels: one scale unit ≈ a 9 px font

    public Canvas(int width, int height, (byte R, byte G, byte B)? background = null)
    {
        Width = width; Height = height;
        Pixels = new byte[width * height * 3];
        Fill(0, 0, width, height, background ?? (255, 255, 255));
    }

    public int Width { get; }
    public int Height { get; }
    public byte[] Pixels { get; }

    public void Set(int x, int y, (byte R, byte G, byte B) c)
    {
        if ((uint)x >= Width || (uint)y >= Height) return;
        int i = (y * Width + x) * 3;
        Pixels[i] = c.R; Pixels[i + 1] = c.G; Pixels[i + 2] = c.B;
    }

    public void Fill(int x, int y, int w, int h, (byte R, byte G, byte B) c)
    {
        for (int yy = Math.Max(0, y); yy < Math.Min(Height, y + h); yy++)
            for (int xx = Math.Max(0, x); xx < Math.Min(Width, x + w); xx++) Set(xx, yy, c);
    }

    /// <summary>Copies an RGB8 image in at (x, y), scaled by an integer factor.</summary>
    public void Blit(int x, int y, int w, int h, byte[] rgb, int scale = 1)
    {
        for (int yy = 0; yy < h * scale; yy++)
            for (int xx = 0; xx < w * scale; xx++)
            {
                int i = ((yy / scale) * w + xx / scale) * 3;
                Set(x + xx, y + yy, (rgb[i], rgb[i + 1], rgb[i + 2]));
            }
    }

    public void Line(double x0, double y0, double x1, double y1, (byte R, byte G, byte B) c) =>
        Draw(canvas =>
        {
            using var paint = new SKPaint { Color = new SKColor(c.R, c.G, c.B), StrokeWidth = 1, IsAntialias = true };
            canvas.DrawLine((float)x0, (float)y0, (float)x1, (float)y1, paint);
        });

    /// <summary>Text with its top-left corner at (x, y).</summary>
    public void Text(int x, int y, string text, (byte R, byte G, byte B) c, int scale = 1) =>
        Draw(canvas =>
        {
            using var font = Fonts.Font(BaseTextSize * scale);
            using var paint = new SKPaint { Color = new SKColor(c.R, c.G, c.B), IsAntialias = true };
            canvas.DrawText(text, x, y - font.Metrics.Ascent, SKTextAlign.Left, font, paint);
        });

    public static int TextWidth(string text, int scale = 1)
    {
        using var font = Fonts.Font(BaseTextSize * scale);
        return (int)Math.Ceiling(font.MeasureText(text));
    }

    public void SavePng(string path) => new RgbImage(Width, Height, Pixels).SavePng(path);

    /// <summary>Draws through SkiaSharp onto a copy of the pixels and copies the result back.</summary>
    void Draw(Action<SKCanvas> draw)
    {
        using var bitmap = new RgbImage(Width, Height, Pixels).ToBitmap();
        using (var canvas = new SKCanvas(bitmap)) draw(canvas);
        Array.Copy(RgbImage.FromBitmap(bitmap).Pixels, Pixels, Pixels.Length);
    }
}
