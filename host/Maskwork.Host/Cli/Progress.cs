using System.Diagnostics;

namespace Maskwork.Host.Cli;

/// <summary>
/// Progress on stderr: a redrawn bar when stderr is a terminal, otherwise a plain line every ~5 %,
/// so logs and CI output stay readable.
/// </summary>
public sealed class Progress(string label, long total)
{
    readonly Stopwatch clock = Stopwatch.StartNew();
    readonly bool tty = !Console.IsErrorRedirected;
    long lastPlain = -1;
    double lastDraw = -1;

    public void Report(long done, string detail = "")
    {
        double elapsed = clock.Elapsed.TotalSeconds;
        double fraction = total > 0 ? Math.Clamp(done / (double)total, 0, 1) : 0;
        string eta = done > 0 && total > 0 ? Format(elapsed / done * (total - done)) : "?";
        if (tty)
        {
            if (elapsed - lastDraw < 0.1 && done < total) return;
            lastDraw = elapsed;
            int width = 28, filled = (int)(fraction * width);
            Console.Error.Write($"\r{label} [{new string('#', filled)}{new string('.', width - filled)}] {done}/{total} {detail} eta {eta}   ");
            if (done >= total) Console.Error.WriteLine();
        }
        else
        {
            long bucket = total > 0 ? (long)(fraction * 20) : done;
            if (bucket == lastPlain && done < total) return;
            lastPlain = bucket;
            Console.Error.WriteLine($"{label}: {done}/{total} {detail} elapsed {Format(elapsed)} eta {eta}");
        }
    }

    public void Done(string detail = "")
    {
        if (tty) Console.Error.WriteLine($"\r{label}: done in {Format(clock.Elapsed.TotalSeconds)} {detail}".PadRight(80));
        else Console.Error.WriteLine($"{label}: done in {Format(clock.Elapsed.TotalSeconds)} {detail}");
    }

    static string Format(double seconds) => TimeSpan.FromSeconds(Math.Round(seconds)).ToString(seconds >= 3600 ? @"h\:mm\:ss" : @"m\:ss");
}
