using ScottPlot;

namespace Maskwork.Backend.Visuals;

/// <summary>One evaluated epoch of a fine-tune: val and test accuracy (NaN when not measured).</summary>
public readonly record struct AccuracyPoint(int Epoch, double Val, double Test);

/// <summary>Accuracy per epoch (val and test), the best val epoch marked: a fine-tune's accuracy.png.</summary>
public static class AccuracyPlot
{
    public static byte[] RenderPng(IReadOnlyList<AccuracyPoint> points, string title, int width = 900, int height = 500)
    {
        _ = Fonts.Path; // registers the font file with ScottPlot before the plot asks for it
        var plot = new Plot();
        if (Fonts.Path is not null) plot.Font.Set(Fonts.PlotFamily);
        plot.Title(title);
        plot.XLabel("epoch");
        plot.YLabel("accuracy");
        if (points.Count == 0)
        {
            plot.Add.Annotation("no epoch finished yet", Alignment.MiddleCenter);
            return plot.GetImageBytes(width, height, ImageFormat.Png);
        }
        double[] epochs = points.Select(p => (double)p.Epoch).ToArray();
        foreach (var (values, label, color) in new[] { (points.Select(p => p.Val).ToArray(), "val", Colors.DarkOrange), (points.Select(p => p.Test).ToArray(), "test", Colors.SteelBlue) })
        {
            var finite = Enumerable.Range(0, values.Length).Where(i => double.IsFinite(values[i])).ToArray();
            if (finite.Length == 0) continue;
            var line = plot.Add.ScatterLine(finite.Select(i => epochs[i]).ToArray(), finite.Select(i => values[i]).ToArray());
            line.LegendText = label;
            line.Color = color;
            line.LineWidth = 2;
            line.MarkerSize = 7;
        }
        var withVal = points.Where(p => double.IsFinite(p.Val)).ToList();
        if (withVal.Count > 0)
        {
            var best = withVal.Aggregate((a, b) => b.Val > a.Val ? b : a);
            var mark = plot.Add.VerticalLine(best.Epoch);
            mark.LinePattern = LinePattern.Dotted;
            mark.Color = Colors.Gray;
            mark.LegendText = $"best val: epoch {best.Epoch}, test {best.Test:F4}";
        }
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericFixedInterval(Math.Max(1, (int)Math.Ceiling(points.Count / 12.0))); // whole epochs
        plot.ShowLegend(Alignment.LowerRight);
        return plot.GetImageBytes(width, height, ImageFormat.Png);
    }

    /// <summary>Writes the plot as a PNG, atomically.</summary>
    public static void Save(string path, IReadOnlyList<AccuracyPoint> points, string title) => RgbImage.WriteAtomically(path, RenderPng(points, title));
}
