namespace Maskwork.Backend.Visuals;

/// <summary>Draws a loss curve (log-scaled y when it spans more than a decade) with axes and labels.</summary>
public static class LossPlot
{
    public static Canvas Render(IReadOnlyList<(long Step, double Loss)> points, string title, int width = 640, int height = 400)
    {
        var c = new Canvas(width, height);
        var black = ((byte)0, (byte)0, (byte)0);
        var grey = ((byte)220, (byte)220, (byte)220);
        var blue = ((byte)31, (byte)119, (byte)180);
        int left = 70, right = 20, top = 30, bottom = 40;
        int pw = width - left - right, ph = height - top - bottom;
        c.Text(left, 10, title, black);
        var finite = points.Where(p => double.IsFinite(p.Loss) && p.Loss > 0).ToList();
        if (finite.Count == 0) { c.Text(left, height / 2, "NO FINITE LOSS YET", black); return c; }
        double lo = finite.Min(p => p.Loss), hi = finite.Max(p => p.Loss);
        bool log = hi / lo > 10;
        Func<double, double> f = log ? Math.Log10 : v => v;
        double ylo = f(lo), yhi = f(hi);
        if (yhi - ylo < 1e-12) { ylo -= 0.5; yhi += 0.5; }
        long xlo = finite.First().Step, xhi = Math.Max(xlo + 1, finite.Last().Step);
        double X(long s) => left + (s - xlo) / (double)(xhi - xlo) * pw;
        double Y(double v) => top + ph - (f(v) - ylo) / (yhi - ylo) * ph;

        for (int i = 0; i <= 4; i++)
        {
            double yv = ylo + (yhi - ylo) * i / 4;
            int y = (int)(top + ph - ph * i / 4.0);
            c.Line(left, y, left + pw, y, grey);
            string label = (log ? Math.Pow(10, yv) : yv).ToString("G3", System.Globalization.CultureInfo.InvariantCulture);
            c.Text(left - Canvas.TextWidth(label) - 4, y - 3, label, black);
            long xs = xlo + (xhi - xlo) * i / 4;
            int x = (int)X(xs);
            c.Line(x, top, x, top + ph, grey);
            string xl = xs.ToString(System.Globalization.CultureInfo.InvariantCulture);
            c.Text(x - Canvas.TextWidth(xl) / 2, top + ph + 6, xl, black);
        }
        c.Line(left, top, left, top + ph, black);
        c.Line(left, top + ph, left + pw, top + ph, black);
        c.Text(left + pw / 2 - 12, height - 14, "STEP", black);
        c.Text(4, top - 14, log ? "LOSS (LOG)" : "LOSS", black);
        for (int i = 1; i < finite.Count; i++)
            c.Line(X(finite[i - 1].Step), Y(finite[i - 1].Loss), X(finite[i].Step), Y(finite[i].Loss), blue);
        return c;
    }
}
