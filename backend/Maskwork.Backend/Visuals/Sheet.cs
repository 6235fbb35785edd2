using SkiaSharp;

namespace Maskwork.Backend.Visuals;

/// <summary>One entry of a sheet's legend row: a colour swatch (or none, for a plain note) and what it means.</summary>
public readonly record struct LegendEntry(string Label, Color? Swatch = null);

/// <summary>
/// A contact sheet: a grid of rows × columns of picture tiles with an optional title line, column
/// labels above, row labels on the left and a legend row below, composed with SkiaSharp. Every run
/// picture is one: reconstructions (a row per sample: input | masked | reconstruction), a strip of
/// video frames or volume slices (<see cref="Row"/>), a row of views of a 3-D shape. A tile may
/// itself be a rendered sheet, so a reconstruction grid of frame strips composes from the same parts.
/// Tiles are scaled up by an integer <see cref="Scale"/> with nearest-neighbour sampling, so patches
/// stay crisp; each is centred in its cell (cells are as large as the largest tile in their row/column).
/// </summary>
public sealed class Sheet
{
    readonly RgbImage?[,] tiles;

    public Sheet(int rows, int columns)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(columns);
        tiles = new RgbImage?[rows, columns];
        ColumnLabels = new string?[columns];
        RowLabels = new string?[rows];
    }

    public int Rows => tiles.GetLength(0);
    public int Columns => tiles.GetLength(1);

    /// <summary>The tile at (row, column); null leaves the cell empty.</summary>
    public RgbImage? this[int row, int column]
    {
        get => tiles[row, column];
        set => tiles[row, column] = value;
    }

    public string? Title { get; set; }
    /// <summary>One label per column, drawn above it (null entries: none).</summary>
    public string?[] ColumnLabels { get; }
    /// <summary>One label per row, drawn to its left (null entries: none).</summary>
    public string?[] RowLabels { get; }
    /// <summary>The legend row under the grid: swatches with their meaning, and notes.</summary>
    public List<LegendEntry> Legend { get; } = [];
    /// <summary>Integer upscaling of every tile (nearest neighbour).</summary>
    public int Scale { get; set; } = 1;
    /// <summary>Space between cells and around the sheet, in pixels.</summary>
    public int Gap { get; set; } = 6;
    public float FontSize { get; set; } = 13;
    public Color Background { get; set; } = Color.White;
    public Color Ink { get; set; } = new(30, 30, 30);

    /// <summary>A one-row sheet: a strip of frames (video, slices) or a row of views, each with its label.</summary>
    public static Sheet Row(IReadOnlyList<RgbImage> images, IReadOnlyList<string>? labels = null, string? title = null, int scale = 1)
    {
        var sheet = new Sheet(1, images.Count) { Title = title, Scale = scale };
        for (int i = 0; i < images.Count; i++)
        {
            sheet[0, i] = images[i];
            if (labels is not null && i < labels.Count) sheet.ColumnLabels[i] = labels[i];
        }
        return sheet;
    }

    /// <summary>Writes the sheet as a PNG, atomically.</summary>
    public void SavePng(string path) => Render().SavePng(path);

    /// <summary>Lays the sheet out and draws it.</summary>
    public RgbImage Render()
    {
        if (Scale < 1) throw new InvalidOperationException($"Sheet.Scale must be at least 1, got {Scale}");
        using var font = Fonts.Font(FontSize);
        using var titleFont = Fonts.Font(FontSize * 1.2f);
        float lineHeight = MathF.Ceiling(font.Spacing), titleHeight = MathF.Ceiling(titleFont.Spacing);
        int gap = Gap;

        var colWidth = new int[Columns];
        var rowHeight = new int[Rows];
        for (int r = 0; r < Rows; r++)
            for (int c = 0; c < Columns; c++)
                if (tiles[r, c] is { } t)
                {
                    colWidth[c] = Math.Max(colWidth[c], t.Width * Scale);
                    rowHeight[r] = Math.Max(rowHeight[r], t.Height * Scale);
                }
        for (int c = 0; c < Columns; c++)
            if (ColumnLabels[c] is { } label) colWidth[c] = Math.Max(colWidth[c], (int)MathF.Ceiling(font.MeasureText(label)));
        for (int r = 0; r < Rows; r++) rowHeight[r] = Math.Max(rowHeight[r], RowLabels[r] is null ? 1 : (int)lineHeight);

        int rowLabelWidth = RowLabels.Any(l => l is not null) ? (int)MathF.Ceiling(RowLabels.Max(l => l is null ? 0 : font.MeasureText(l))) + gap : 0;
        bool hasColumnLabels = ColumnLabels.Any(l => l is not null);
        int gridWidth = colWidth.Sum() + gap * (Columns - 1);
        int gridHeight = rowHeight.Sum() + gap * (Rows - 1);

        const int swatch = 12;
        var legendWidths = Legend.Select(e => (e.Swatch is null ? 0 : swatch + 4) + (int)MathF.Ceiling(font.MeasureText(e.Label))).ToList();
        var legendLines = WrapLegend(legendWidths, Math.Max(gridWidth + rowLabelWidth, 320), gap * 3);
        int legendWidth = legendLines.Count == 0 ? 0 : legendLines.Max(line => line.Sum(i => legendWidths[i]) + gap * 3 * (line.Count - 1));

        int contentWidth = Math.Max(rowLabelWidth + gridWidth, Math.Max(legendWidth, Title is null ? 0 : (int)MathF.Ceiling(titleFont.MeasureText(Title))));
        int width = gap + contentWidth + gap;
        int top = gap + (Title is null ? 0 : (int)titleHeight + gap / 2) + (hasColumnLabels ? (int)lineHeight + gap / 2 : 0);
        int height = top + gridHeight + gap + (legendLines.Count == 0 ? 0 : legendLines.Count * ((int)lineHeight + gap / 2) + gap / 2);

        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(Background.ToSk());
        using var ink = new SKPaint { Color = Ink.ToSk(), IsAntialias = true };
        var nearest = new SKSamplingOptions(SKFilterMode.Nearest, SKMipmapMode.None);

        float y = gap;
        if (Title is not null)
        {
            canvas.DrawText(Title, gap, y - titleFont.Metrics.Ascent, SKTextAlign.Left, titleFont, ink);
            y += titleHeight + gap / 2;
        }
        int gridLeft = gap + rowLabelWidth;
        if (hasColumnLabels)
        {
            float x = gridLeft;
            for (int c = 0; c < Columns; c++)
            {
                if (ColumnLabels[c] is { } label) canvas.DrawText(label, x + colWidth[c] / 2f, y - font.Metrics.Ascent, SKTextAlign.Center, font, ink);
                x += colWidth[c] + gap;
            }
        }

        float rowTop = top;
        for (int r = 0; r < Rows; r++)
        {
            if (RowLabels[r] is { } label)
                canvas.DrawText(label, gap, rowTop + rowHeight[r] / 2f - (font.Metrics.Ascent + font.Metrics.Descent) / 2, SKTextAlign.Left, font, ink);
            float x = gridLeft;
            for (int c = 0; c < Columns; c++)
            {
                if (tiles[r, c] is { } tile)
                {
                    using var tileBitmap = tile.ToBitmap();
                    using var image = SKImage.FromBitmap(tileBitmap);
                    float w = tile.Width * Scale, h = tile.Height * Scale;
                    float left = x + (colWidth[c] - w) / 2, tileTop = rowTop + (rowHeight[r] - h) / 2;
                    canvas.DrawImage(image, SKRect.Create(MathF.Floor(left), MathF.Floor(tileTop), w, h), nearest);
                }
                x += colWidth[c] + gap;
            }
            rowTop += rowHeight[r] + gap;
        }

        float ly = top + gridHeight + gap;
        foreach (var line in legendLines)
        {
            float x = gap;
            foreach (int i in line)
            {
                var entry = Legend[i];
                if (entry.Swatch is { } colour)
                {
                    using var fill = new SKPaint { Color = colour.ToSk() };
                    using var edge = new SKPaint { Color = Ink.ToSk(), Style = SKPaintStyle.Stroke, StrokeWidth = 1 };
                    var box = SKRect.Create(x, ly + (lineHeight - swatch) / 2, swatch, swatch);
                    canvas.DrawRect(box, fill);
                    canvas.DrawRect(box, edge);
                    x += swatch + 4;
                }
                canvas.DrawText(entry.Label, x, ly - font.Metrics.Ascent, SKTextAlign.Left, font, ink);
                x += font.MeasureText(entry.Label) + gap * 3;
            }
            ly += lineHeight + gap / 2;
        }
        canvas.Flush();
        return RgbImage.FromBitmap(bitmap);
    }

    /// <summary>Greedy line breaking of legend entries into lines no wider than <paramref name="maxWidth"/>.</summary>
    static List<List<int>> WrapLegend(List<int> widths, int maxWidth, int spacing)
    {
        var lines = new List<List<int>>();
        int used = 0;
        for (int i = 0; i < widths.Count; i++)
        {
            if (lines.Count == 0 || (used > 0 && used + spacing + widths[i] > maxWidth)) { lines.Add([]); used = 0; }
            else if (used > 0) used += spacing;
            lines[^1].Add(i);
            used += widths[i];
        }
        return lines;
    }
}
