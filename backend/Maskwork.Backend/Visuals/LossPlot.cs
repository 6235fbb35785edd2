using System.Globalization;
using ScottPlot;
using ScottPlot.TickGenerators;

namespace Maskwork.Backend.Visuals;

/// <summary>One logged training step, as the loss plot needs it.</summary>
public readonly record struct LossPoint(long Step, double Loss, double Lr);

/// <summary>How <see cref="LossPlot"/> draws.</summary>
public sealed record LossPlotOptions
{
    public string Title { get; init; } = "training loss";
    /// <summary>Log-scaled loss axis: true, false, or null to decide from the data (when the loss spans more than a decade).</summary>
    public bool? LogScale { get; init; }
    /// <summary>Exponential smoothing weight of the smoothed curve in [0, 1); null picks one from the point count (about 1/50 of the points' memory).</summary>
    public double? Smoothing { get; init; }
    public int Width { get; init; } = 900;
    public int Height { get; init; } = 500;
}

/// <summary>
/// The run's loss curve through ScottPlot: raw loss (faint), an exponentially smoothed curve (bias
/// corrected, like TensorBoard's), and the learning rate on a second axis at the right; readable
/// ticks on every axis, a legend, optionally a log-scaled loss axis.
/// </summary>
public static class LossPlot
{
    /// <summary>The 1.x entry point, kept for plugins built against 1.0–1.1 (removed in 2.0): the ScottPlot plot as a <see cref="Canvas"/>.</summary>
    [Obsolete("Use LossPlot.Save or LossPlot.RenderPng; Render and Canvas are removed in 2.0.")]
#pragma warning disable CS0618 // the obsolete pair refers to itself
    public static Canvas Render(IReadOnlyList<(long Step, double Loss)> points, string title, int width = 640, int height = 400)
    {
        var png = RenderPng(points.Select(p => new LossPoint(p.Step, p.Loss, double.NaN)).ToList(), new LossPlotOptions { Title = title, Width = width, Height = height });
        using var bitmap = SkiaSharp.SKBitmap.Decode(png);
        var image = RgbImage.FromBitmap(bitmap);
        var canvas = new Canvas(image.Width, image.Height);
        Array.Copy(image.Pixels, canvas.Pixels, canvas.Pixels.Length);
        return canvas;
    }
#pragma warning restore CS0618

    public static byte[] RenderPng(IReadOnlyList<LossPoint> points, LossPlotOptions? options = null)
    {
        options ??= new LossPlotOptions();
        _ = Fonts.Path; // registers the font file with ScottPlot before the plot asks for it
        var plot = new Plot();
        if (Fonts.Path is not null) plot.Font.Set(Fonts.PlotFamily);
        plot.Title(options.Title);
        plot.XLabel("step");

        var finite = points.Where(p => double.IsFinite(p.Loss)).OrderBy(p => p.Step).ToList();
        if (finite.Count == 0)
        {
            plot.YLabel("loss");
            plot.Add.Annotation("no finite loss logged yet", Alignment.MiddleCenter);
            return plot.GetImageBytes(options.Width, options.Height, ImageFormat.Png);
        }
        bool log = options.LogScale ?? (finite.Min(p => p.Loss) > 0 && finite.Max(p => p.Loss) / finite.Min(p => p.Loss) > 10);
        if (log && finite.Any(p => p.Loss <= 0)) log = false; // a log axis cannot show zero or negative losses
        Func<double, double> toAxis = log ? Math.Log10 : v => v;

        double[] steps = finite.Select(p => (double)p.Step).ToArray();
        double[] loss = finite.Select(p => toAxis(p.Loss)).ToArray();
        double[] smooth = Smooth(finite.Select(p => p.Loss).ToArray(), options.Smoothing ?? AutoSmoothing(finite.Count)).Select(toAxis).ToArray();

        var raw = plot.Add.ScatterLine(steps, loss);
        raw.LegendText = "loss";
        raw.Color = Colors.SteelBlue.WithAlpha(0.35);
        raw.LineWidth = 1;
        var smoothed = plot.Add.ScatterLine(steps, smooth);
        smoothed.LegendText = "loss, smoothed";
        smoothed.Color = Colors.SteelBlue;
        smoothed.LineWidth = 2.5f;

        plot.YLabel(log ? "loss (log scale)" : "loss");
        if (log) plot.Axes.Left.TickGenerator = LogTicks(finite.Min(p => p.Loss), finite.Max(p => p.Loss));

        var lrPoints = finite.Where(p => double.IsFinite(p.Lr)).ToList();
        if (lrPoints.Count > 0 && lrPoints.Any(p => p.Lr != 0))
        {
            var lr = plot.Add.ScatterLine(lrPoints.Select(p => (double)p.Step).ToArray(), lrPoints.Select(p => p.Lr).ToArray());
            lr.LegendText = "learning rate";
            lr.Color = Colors.DarkOrange;
            lr.LineWidth = 1.5f;
            lr.LinePattern = LinePattern.Dashed;
            lr.Axes.YAxis = plot.Axes.Right;
            plot.Axes.Right.Label.Text = "learning rate";
            plot.Axes.Right.TickGenerator = new NumericAutomatic { LabelFormatter = Format };
        }
        plot.ShowLegend(Alignment.UpperRight);
        return plot.GetImageBytes(options.Width, options.Height, ImageFormat.Png);
    }

    /// <summary>Writes the plot as a PNG, atomically.</summary>
    public static void Save(string path, IReadOnlyList<LossPoint> points, LossPlotOptions? options = null) =>
        RgbImage.WriteAtomically(path, RenderPng(points, options));

    /// <summary>Bias-corrected exponential moving average (weight <paramref name="beta"/> on the past).</summary>
    public static double[] Smooth(IReadOnlyList<double> values, double beta)
    {
        if (beta is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(beta), beta, "smoothing weight is in [0, 1)");
        var result = new double[values.Count];
        double average = 0, weight = 0;
        for (int i = 0; i < values.Count; i++)
        {
            average = beta * average + (1 - beta) * values[i];
            weight = beta * weight + (1 - beta);
            result[i] = average / weight;
        }
        return result;
    }

    /// <summary>
    /// Ticks of a log10 axis at 1, 2 and 5 × 10^k inside [lo, hi] (only powers of ten when that makes
    /// too many, every integer multiple when too few), labelled with the loss value, minor ticks at
    /// the other multiples.
    /// </summary>
    static NumericManual LogTicks(double lo, double hi)
    {
        var ticks = new NumericManual();
        int k0 = (int)Math.Floor(Math.Log10(lo)) - 1, k1 = (int)Math.Ceiling(Math.Log10(hi)) + 1;
        var values = Enumerable.Range(k0, k1 - k0 + 1).SelectMany(k => Enumerable.Range(1, 9).Select(m => m * Math.Pow(10, k)))
            .Where(v => v >= lo * 0.97 && v <= hi * 1.03).ToList();
        static int Leading(double v) => (int)Math.Round(v / Math.Pow(10, Math.Floor(Math.Log10(v) + 1e-9)));
        var major = values.Where(v => Leading(v) is 1 or 2 or 5).ToList();
        if (major.Count > 8) major = values.Where(v => Leading(v) == 1).ToList();
        if (major.Count < 3) major = values;
        foreach (var v in values)
        {
            if (major.Contains(v)) ticks.AddMajor(Math.Log10(v), Format(v));
            else ticks.AddMinor(Math.Log10(v));
        }
        return ticks;
    }

    static double AutoSmoothing(int count) => count < 10 ? 0 : 1 - 1.0 / Math.Max(1, count / 50.0);

    /// <summary>Short tick labels: 0.5, 2000, 2e-3, 1.5e-4.</summary>
    static string Format(double v)
    {
        if (v == 0) return "0";
        double a = Math.Abs(v);
        return a is >= 1e-2 and < 1e5 ? v.ToString("0.###", CultureInfo.InvariantCulture) : v.ToString("0.#e0", CultureInfo.InvariantCulture);
    }
}
