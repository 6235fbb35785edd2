using System.Runtime.InteropServices;
using SkiaSharp;
using static TorchSharp.torch;

namespace Maskwork.Backend.Visuals;

/// <summary>
/// An 8-bit RGB picture, rows top to bottom: what renderers return, what sheets are made of, and
/// what is saved as PNG (through SkiaSharp).
/// </summary>
public sealed class RgbImage
{
    public RgbImage(int width, int height, byte[] pixels)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if (pixels.Length != width * height * 3)
            throw new ArgumentException($"an {width}×{height} RGB image needs {width * height * 3} bytes, got {pixels.Length}", nameof(pixels));
        Width = width; Height = height; Pixels = pixels;
    }

    public RgbImage(int width, int height, Color fill) : this(width, height, Filled(width, height, fill)) { }

    public int Width { get; }
    public int Height { get; }
    /// <summary>R, G, B per pixel, row-major.</summary>
    public byte[] Pixels { get; }

    public Color this[int x, int y]
    {
        get
        {
            int i = (y * Width + x) * 3;
            return new(Pixels[i], Pixels[i + 1], Pixels[i + 2]);
        }
    }

    /// <summary>
    /// A picture of one image tensor with values in [0, 1] (clamped): [H, W] or [1, H, W] as grey,
    /// [3, H, W] as RGB. Any device and float type.
    /// </summary>
    public static RgbImage FromTensor(Tensor image)
    {
        using var scope = NewDisposeScope();
        var t = image.dim() == 2 ? image.unsqueeze(0) : image;
        if (t.dim() != 3 || (t.shape[0] != 1 && t.shape[0] != 3))
            throw new ArgumentException($"an image tensor is [H,W], [1,H,W] or [3,H,W]; got [{string.Join(",", image.shape)}]", nameof(image));
        int h = (int)t.shape[1], w = (int)t.shape[2];
        var rgb = t.detach().to(ScalarType.Float32).cpu().clamp(0, 1).expand(3, h, w).permute(1, 2, 0)
            .mul(255).round().to(ScalarType.Byte).contiguous();
        return new RgbImage(w, h, rgb.bytes.ToArray());
    }

    /// <summary>PNG bytes of this picture.</summary>
    public byte[] EncodePng()
    {
        using var bitmap = ToBitmap();
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    /// <summary>Writes the PNG atomically (temp file, then rename), creating the folder.</summary>
    public void SavePng(string path) => WriteAtomically(path, EncodePng());

    /// <summary>Decodes a PNG or JPEG file (alpha dropped).</summary>
    public static RgbImage Load(string path)
    {
        using var bitmap = SKBitmap.Decode(path) ?? throw new InvalidDataException($"{path} is not a picture SkiaSharp can decode");
        return FromBitmap(bitmap);
    }

    internal SKBitmap ToBitmap()
    {
        var bitmap = new SKBitmap(new SKImageInfo(Width, Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var rgba = new byte[Width * Height * 4];
        for (int i = 0, j = 0; i < Pixels.Length; i += 3, j += 4)
        {
            rgba[j] = Pixels[i]; rgba[j + 1] = Pixels[i + 1]; rgba[j + 2] = Pixels[i + 2]; rgba[j + 3] = 255;
        }
        Marshal.Copy(rgba, 0, bitmap.GetPixels(), rgba.Length);
        return bitmap;
    }

    internal static RgbImage FromBitmap(SKBitmap source)
    {
        using var bitmap = source.ColorType == SKColorType.Rgba8888 ? null : source.Copy(SKColorType.Rgba8888);
        var b = bitmap ?? source;
        var rgba = new byte[b.Width * b.Height * 4];
        Marshal.Copy(b.GetPixels(), rgba, 0, rgba.Length);
        var rgb = new byte[b.Width * b.Height * 3];
        for (int i = 0, j = 0; i < rgb.Length; i += 3, j += 4)
        {
            rgb[i] = rgba[j]; rgb[i + 1] = rgba[j + 1]; rgb[i + 2] = rgba[j + 2];
        }
        return new RgbImage(b.Width, b.Height, rgb);
    }

    internal static void WriteAtomically(string path, byte[] bytes)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        string tmp = path + ".tmp";
        File.WriteAllBytes(tmp, bytes);
        File.Move(tmp, path, true);
    }

    static byte[] Filled(int width, int height, Color c)
    {
        var p = new byte[width * height * 3];
        for (int i = 0; i < p.Length; i += 3) { p[i] = c.R; p[i + 1] = c.G; p[i + 2] = c.B; }
        return p;
    }
}
