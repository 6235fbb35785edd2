using Maskwork.Backend.Visuals;
using static TorchSharp.torch;

namespace Maskwork.Backend.Tests;

public class VisualsTests
{
    /// <summary>Pictures the tests make are kept here, to be looked at.</summary>
    static string Out(string name)
    {
        string dir = Path.Combine(Path.GetTempPath(), "maskwork-visuals-tests");
        Directory.CreateDirectory(dir);
        return Path.Combine(dir, name);
    }

    static RgbImage Checker(int size, Color a, Color b)
    {
        var p = new byte[size * size * 3];
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                var c = (x + y) % 2 == 0 ? a : b;
                int i = (y * size + x) * 3;
                p[i] = c.R; p[i + 1] = c.G; p[i + 2] = c.B;
            }
        return new RgbImage(size, size, p);
    }

    [Fact]
    public void A_font_file_is_found()
    {
        Assert.NotNull(Fonts.Path);
        Assert.True(File.Exists(Fonts.Path));
    }

    [Fact]
    public void Tensor_images_become_rgb_exactly()
    {
        var grey = RgbImage.FromTensor(tensor(new float[] { 0, 1, 0.5f, 2 }, [2, 2]));
        Assert.Equal((2, 2), (grey.Width, grey.Height));
        Assert.Equal(new Color(0, 0, 0), grey[0, 0]);
        Assert.Equal(new Color(255, 255, 255), grey[1, 0]);
        Assert.Equal(new Color(128, 128, 128), grey[0, 1]);
        Assert.Equal(new Color(255, 255, 255), grey[1, 1]); // clamped
        var rgb = RgbImage.FromTensor(tensor(new float[] { 1, 0, 0, 0, 0, 1 }, [3, 1, 2]));
        Assert.Equal(new Color(255, 0, 0), rgb[0, 0]);
        Assert.Equal(new Color(0, 0, 255), rgb[1, 0]);
        Assert.Throws<ArgumentException>(() => RgbImage.FromTensor(zeros(2, 4, 4)));
    }

    [Fact]
    public void Png_round_trips_pixels()
    {
        var image = Checker(9, new Color(10, 200, 30), new Color(250, 5, 128));
        string path = Out("roundtrip.png");
        image.SavePng(path);
        var back = RgbImage.Load(path);
        Assert.Equal(image.Pixels, back.Pixels);
        Assert.False(File.Exists(path + ".tmp"));
    }

    [Fact]
    public void Sheet_places_scaled_tiles_and_draws_labels_title_and_legend()
    {
        var red = new RgbImage(4, 3, new Color(255, 0, 0));
        var blue = new RgbImage(4, 3, new Color(0, 0, 255));
        var sheet = new Sheet(2, 2) { Title = "reconstructions at step 2000", Scale = 5 };
        sheet[0, 0] = red; sheet[0, 1] = blue; sheet[1, 0] = blue; // [1,1] empty
        sheet.ColumnLabels[0] = "input"; sheet.ColumnLabels[1] = "reconstruction";
        sheet.RowLabels[0] = "#1"; sheet.RowLabels[1] = "#2";
        sheet.Legend.Add(new LegendEntry("masked patch", Color.MaskGrey));
        sheet.Legend.Add(new LegendEntry("a note"));
        var picture = sheet.Render();
        picture.SavePng(Out("sheet.png"));

        // Every tile is there, 5× larger: exactly 20×15 pixels of each colour per tile.
        int Count(Color c) => Enumerable.Range(0, picture.Width * picture.Height).Count(i => picture[i % picture.Width, i / picture.Width] == c);
        Assert.Equal(20 * 15, Count(new Color(255, 0, 0)));
        Assert.Equal(2 * 20 * 15, Count(new Color(0, 0, 255)));
        // Text and the legend swatch were drawn: dark anti-aliased pixels outside the tiles, the swatch's grey.
        int dark = Enumerable.Range(0, picture.Width * picture.Height).Count(i => picture[i % picture.Width, i / picture.Width] is { R: < 100, G: < 100, B: < 100 });
        Assert.True(dark > 200, $"only {dark} dark pixels: labels missing?");
        Assert.True(Count(Color.MaskGrey) >= 100);
        // The sheet grew to fit the labels, title and legend.
        Assert.True(picture.Width > 2 * 20 + 3 * 6 && picture.Height > 2 * 15 + 3 * 6 + 3 * 13);
    }

    [Fact]
    public void A_row_of_views_and_dots_compose_into_a_sheet()
    {
        var dots = Enumerable.Range(0, 200).Select(i => new Dot(MathF.Cos(i * 0.1f) * 0.9f, MathF.Sin(i * 0.1f) * 0.9f, Color.Blue));
        var view = Views.Dots(64, dots, new Color(246, 246, 246), 1.5f);
        Assert.Equal((64, 64), (view.Width, view.Height));
        Assert.Equal(new Color(246, 246, 246), view[32, 32]); // the circle's centre stays empty
        var row = Sheet.Row([view, Checker(16, Color.White, Color.Black)], ["ring", "checker"], title: "views", scale: 2).Render();
        row.SavePng(Out("row.png"));
        Assert.True(row.Width >= 128 + 32 + 6);
    }

    [Fact]
    public void Loss_plot_is_a_png_of_the_requested_size_linear_and_log()
    {
        var points = Enumerable.Range(1, 300).Select(s => new LossPoint(s * 10L,
            2.0 * Math.Exp(-s / 60.0) + 0.05 + 0.03 * Math.Sin(s * 1.7), s < 20 ? s / 20.0 * 2e-3 : 2e-3 * 0.5 * (1 + Math.Cos(Math.PI * (s - 20) / 280.0)))).ToList();
        foreach (bool log in new[] { false, true })
        {
            string path = Out(log ? "loss-log.png" : "loss.png");
            LossPlot.Save(path, points, new LossPlotOptions { Title = "image/mae", LogScale = log, Width = 800, Height = 450 });
            var image = RgbImage.Load(path);
            Assert.Equal((800, 450), (image.Width, image.Height));
        }
        var empty = RgbImage.Load(WriteBytes("loss-empty.png", LossPlot.RenderPng([new LossPoint(1, double.NaN, 0)])));
        Assert.Equal(900, empty.Width);
    }

    [Fact]
    public void Smoothing_is_a_bias_corrected_moving_average()
    {
        Assert.All(LossPlot.Smooth([3, 3, 3], 0.9), v => Assert.Equal(3.0, v, 12)); // no pull towards 0 at the start
        var s = LossPlot.Smooth([0, 10], 0.5);
        Assert.Equal(0, s[0]);
        Assert.Equal(10 * 0.5 / 0.75, s[1], 12);
        Assert.Throws<ArgumentOutOfRangeException>(() => LossPlot.Smooth([1], 1));
    }

    static string WriteBytes(string name, byte[] bytes)
    {
        string path = Out(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
