using StbImageWriteSharp;

namespace Maskwork.Backend.Visuals;

/// <summary>A small RGB raster with just what run pictures need: rectangles, lines, 5×7 text, PNG output.</summary>
public sealed class Canvas
{
    public Canvas(int width, int height, (byte R, byte G, byte B)? background = null)
    {
        Width = width; Height = height;
        Pixels = new byte[width * height * 3];
        var bg = background ?? (255, 255, 255);
        Fill(0, 0, width, height, bg);
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

    public void Line(double x0, double y0, double x1, double y1, (byte R, byte G, byte B) c)
    {
        int steps = (int)Math.Max(Math.Abs(x1 - x0), Math.Abs(y1 - y0)) + 1;
        for (int i = 0; i <= steps; i++)
        {
            double t = i / (double)steps;
            Set((int)Math.Round(x0 + (x1 - x0) * t), (int)Math.Round(y0 + (y1 - y0) * t), c);
        }
    }

    public void Text(int x, int y, string text, (byte R, byte G, byte B) c, int scale = 1)
    {
        foreach (char ch in text.ToUpperInvariant())
        {
            var glyph = Font.Glyph(ch);
            for (int row = 0; row < 7; row++)
                for (int col = 0; col < 5; col++)
                    if ((glyph[row] >> (4 - col) & 1) == 1) Fill(x + col * scale, y + row * scale, scale, scale, c);
            x += 6 * scale;
        }
    }

    public static int TextWidth(string text, int scale = 1) => text.Length * 6 * scale;

    public void SavePng(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        string tmp = path + ".tmp";
        using (var fs = File.Create(tmp))
            new ImageWriter().WritePng(Pixels, Width, Height, ColorComponents.RedGreenBlue, fs);
        File.Move(tmp, path, true);
    }
}
