using System.Diagnostics;

namespace Maskwork.Bench;

/// <summary>Times one action repeatedly after warm-up runs, in milliseconds: the best or the median sample.</summary>
static class Timing
{
    /// <param name="before">Runs before every run (warm-up included) and is not timed.</param>
    public static List<double> Samples(Action run, int warmup, int reps, Action? before = null)
    {
        for (int i = 0; i < warmup; i++) { before?.Invoke(); run(); }
        var samples = new List<double>(reps);
        for (int i = 0; i < reps; i++)
        {
            before?.Invoke();
            long t = Stopwatch.GetTimestamp();
            run();
            samples.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
        }
        return samples;
    }

    public static double Best(Action run, int warmup = 2, int reps = 5) => Samples(run, warmup, reps).Min();

    public static double Median(Action run, int warmup = 3, int reps = 8, Action? before = null) =>
        Samples(run, warmup, reps, before).Order().ElementAt(reps / 2);
}
