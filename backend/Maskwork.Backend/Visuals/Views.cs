using SkiaSharp;

namespace Maskwork.Backend.Visuals;

/// <summary>One projected point of a view: screen coordinates in [-1, 1] (y up) and its colour.</summary>
public readonly record struct Dot(float X, float Y, Color Color);

/// <summary>Single views of 3-D data, drawn with SkiaSharp, to be laid out on a <see cref="Sheet"/>.</summary>
public static class Views
{
    /// <summary>
    /// A square view of projected points: dots drawn in the given order (pass them far to near, so
    /// nearer ones cover farther ones), the [-1, 1] square mapped to the view with a small margin.
    /// Points outside it, or not finite, are left out.
    /// </summary>
    public static RgbImage Dots(int size, IEnumerable<Dot> dots, Color background, float radius = 1.2f)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        using var bitmap = new SKBitmap(new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(background.ToSk());
        using var paint = new SKPaint { IsAntialias = true, Style = SKPaintStyle.Fill };
        float half = size / 2f, scale = half * 0.85f;
        foreach (var d in dots)
        {
            if (!float.IsFinite(d.X) || !float.IsFinite(d.Y) || MathF.Abs(d.X) > 1.15f || MathF.Abs(d.Y) > 1.15f) continue;
            paint.Color = d.Color.ToSk();
            canvas.DrawCircle(half + d.X * scale, half - d.Y * scale, radius, paint);
        }
        canvas.Flush();
        return RgbImage.FromBitmap(bitmap);
    }
}
