using Maskwork.Abstractions;
using Maskwork.Backend.Visuals;
using Maskwork.Plugins.Lidar.Sensor;
using Maskwork.Plugins.Lidar.Masking;
using Maskwork.Plugins.Lidar.Model;
using SkiaSharp;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Lidar.Recipes;

/// <summary>
/// Bird's-eye views, forward (+x) up and left (+y) left, one row per scan: the input occupancy (a cell's brightness =
/// its occupied voxels over z) | the mask (masked cells dark red, the boundaries of the kept sectors drawn from the
/// sensor) | the predicted occupancy in the masked region (red = predicted probability, the column's maximum; green =
/// truly occupied; yellow = both). With <see cref="GeoJsonPath"/> set, the first scan's mask is also written as GeoJSON.
/// </summary>
public sealed class BevRenderer(SectorTable table, int cellPixels = 2) : IMaskRenderer, IReconstructionRenderer
{
    /// <summary>Where <c>maskwork masks</c> also writes the first scan's sectors and occupied cells as GeoJSON (null: no file).</summary>
    public string? GeoJsonPath { get; init; }

    LidarGrid Grid => table.Grid;

    public (int Height, int Width, byte[] Rgb) Render(TokenBatch tokens, MaskPlan plan, ITokenizer tokenizer) => Draw(tokens, plan, null);

    public (int Height, int Width, byte[] Rgb) Render(TokenBatch tokens, MaskPlan plan, Tensor reconstruction, ITokenizer tokenizer) =>
        Draw(tokens, plan, reconstruction.select(2, 0));

    (int, int, byte[]) Draw(TokenBatch tokens, MaskPlan plan, Tensor? probability)
    {
        using var scope = NewDisposeScope();
        int b = (int)tokens.BatchSize, z = Grid.Z, cells = Grid.Cells;
        var occupied = tokens.Tokens.select(2, 0).gt(0.5).cpu();
        var masked = DenseMask.Of(plan, tokens).cpu();
        var columnCount = occupied.to_type(ScalarType.Float32).view(b, z, cells).sum(1);                // [B, cells]
        var columnMasked = masked.view(b, z, cells).any(1);                                            // [B, cells]
        var hiddenOccupied = occupied.logical_and(masked).view(b, z, cells).any(1);
        var columnProb = probability is null ? null : probability.cpu().to_type(ScalarType.Float32).mul(masked.to_type(ScalarType.Float32)).view(b, z, cells).amax([1L]);
        var kept = new RadialMasker(table, 0.5, []).KeptSectors(MaskPlan.FromDense(masked)).cpu();   // [B, S]
        if (GeoJsonPath is { } path) GeoJsonExport.Write(path, table, occupied[0], masked[0]);

        int columns = probability is null ? 2 : 3;
        var sheet = new Sheet(b, columns) { Title = $"bird's-eye views, {Grid}; {table.SectorCount} sectors of {table.Field.SectorDegrees}°" };
        sheet.ColumnLabels[0] = "input occupancy";
        sheet.ColumnLabels[1] = "mask (dark red = hidden; lines = kept sectors)";
        if (columns == 3) sheet.ColumnLabels[2] = "masked region: red = predicted, green = true";
        float max = Math.Max(1, columnCount.max().item<float>());
        for (int i = 0; i < b; i++)
        {
            var count = columnCount[i].data<float>().ToArray();
            var hide = columnMasked[i].data<bool>().ToArray();
            var truth = hiddenOccupied[i].data<bool>().ToArray();
            var prob = columnProb?[i].data<float>().ToArray();
            var keptRow = kept[i].data<bool>().ToArray();
            var input = Panel((c, _) => table.Table[c] < 0 ? Outside : Grey(count[c] > 0 ? 0.35 + 0.65 * count[c] / max : 0));
            var mask = Panel((c, _) => table.Table[c] < 0 ? Outside
                : hide[c] ? (count[c] > 0 ? HiddenFilled : HiddenEmpty)
                : Grey(count[c] > 0 ? 0.35 + 0.65 * count[c] / max : 0));
            sheet[i, 0] = input;
            sheet[i, 1] = Sectors(mask, keptRow);
            if (prob is not null)
            {
                var pred = Panel((c, _) => table.Table[c] < 0 ? Outside
                    : !hide[c] ? Seen : ((byte)(255 * Math.Clamp(prob[c], 0, 1)), (byte)(truth[c] ? 200 : 0), (byte)0));
                sheet[i, 2] = pred;
            }
            sheet.RowLabels[i] = $"#{i + 1}";
        }
        var image = sheet.Render();
        return (image.Height, image.Width, image.Pixels);
    }

    static readonly (byte, byte, byte) Outside = (235, 235, 235), HiddenFilled = (150, 90, 90), HiddenEmpty = (70, 20, 20), Seen = (40, 40, 40);

    static (byte, byte, byte) Grey(double v)
    {
        byte g = (byte)(255 * Math.Clamp(v, 0, 1));
        return (g, g, g);
    }

    /// <summary>A panel with forward up: cell (iy, ix) at column Y−1−iy, row X−1−ix.</summary>
    RgbImage Panel(Func<int, int, (byte R, byte G, byte B)> colour)
    {
        int w = Grid.Y * cellPixels, h = Grid.X * cellPixels;
        var pixels = new byte[w * h * 3];
        for (int py = 0; py < h; py++)
            for (int px = 0; px < w; px++)
            {
                int iy = Grid.Y - 1 - px / cellPixels, ix = Grid.X - 1 - py / cellPixels;
                var (r, g, b) = colour(iy * Grid.X + ix, 0);
                int at = (py * w + px) * 3;
                pixels[at] = r; pixels[at + 1] = g; pixels[at + 2] = b;
            }
        return new RgbImage(w, h, pixels);
    }

    /// <summary>Pixel position of a metric point.</summary>
    (double, double) Pixel(double x, double y) =>
        ((Grid.Range[4] - y) / Grid.Voxel[1] * cellPixels, (Grid.Range[3] - x) / Grid.Voxel[0] * cellPixels);

    /// <summary>The panel with the kept sectors' boundary rays drawn from the sensor (SkiaSharp).</summary>
    RgbImage Sectors(RgbImage panel, bool[] kept)
    {
        int w = panel.Width, h = panel.Height;
        using var bitmap = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var rgba = new byte[w * h * 4];
        for (int i = 0; i < w * h; i++)
        {
            rgba[i * 4] = panel.Pixels[i * 3]; rgba[i * 4 + 1] = panel.Pixels[i * 3 + 1]; rgba[i * 4 + 2] = panel.Pixels[i * 3 + 2]; rgba[i * 4 + 3] = 255;
        }
        System.Runtime.InteropServices.Marshal.Copy(rgba, 0, bitmap.GetPixels(), rgba.Length);
        using (var canvas = new SKCanvas(bitmap))
        using (var paint = new SKPaint { Color = new SKColor(60, 160, 255), IsAntialias = true, StrokeWidth = 1 })
        {
            var f = table.Field;
        double reach = 2 * Math.Max(Math.Abs(Grid.Range[3]) + Math.Abs(Grid.Range[0]), Math.Abs(Grid.Range[4]) + Math.Abs(Grid.Range[1]));
        var (ox, oy) = Pixel(0, 0);
        for (int s = 0; s < kept.Length; s++)
        {
            if (!kept[s]) continue;
            foreach (double edge in new[] { s, Math.Min(s + 1, f.FovDegrees / f.SectorDegrees) })
            {
                double a = (f.StartDegrees + edge * f.SectorDegrees) * Math.PI / 180;
                var (px, py) = Pixel(reach * Math.Cos(a), reach * Math.Sin(a));
                canvas.DrawLine((float)ox, (float)oy, (float)px, (float)py, paint);
            }
        }
        }
        System.Runtime.InteropServices.Marshal.Copy(bitmap.GetPixels(), rgba, 0, rgba.Length);
        var rgb = new byte[w * h * 3];
        for (int i = 0; i < w * h; i++) { rgb[i * 3] = rgba[i * 4]; rgb[i * 3 + 1] = rgba[i * 4 + 1]; rgb[i * 3 + 2] = rgba[i * 4 + 2]; }
        return new RgbImage(w, h, rgb);
    }
}
