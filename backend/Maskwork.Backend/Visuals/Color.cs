namespace Maskwork.Backend.Visuals;

/// <summary>An 8-bit RGB colour.</summary>
public readonly record struct Color(byte R, byte G, byte B)
{
    public static Color White => new(255, 255, 255);
    public static Color Black => new(0, 0, 0);
    /// <summary>The grey that stands for "hidden from the encoder" in every run picture.</summary>
    public static Color MaskGrey => new(128, 128, 128);
    public static Color Blue => new(31, 119, 180);
    public static Color Orange => new(255, 127, 14);
    public static Color Red => new(214, 39, 40);
    public static Color Green => new(44, 160, 44);

    /// <summary>This colour blended towards <paramref name="other"/> by <paramref name="t"/> (0 = this, 1 = other).</summary>
    public Color Mix(Color other, double t)
    {
        t = Math.Clamp(t, 0, 1);
        return new((byte)Math.Round(R + (other.R - R) * t), (byte)Math.Round(G + (other.G - G) * t), (byte)Math.Round(B + (other.B - B) * t));
    }

    internal SkiaSharp.SKColor ToSk() => new(R, G, B);
}
