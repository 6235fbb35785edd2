using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Maskwork.Host.Cli;

/// <summary>Where long work reports how far it got.</summary>
public interface IProgressTask
{
    /// <summary><paramref name="done"/> units so far; <paramref name="detail"/> is a short status such as "loss 0.61 · 380 samples/s".</summary>
    void Report(long done, string? detail = null);
}

/// <summary>
/// Progress on stderr. On a terminal a live Spectre.Console display: a bar with done/total, elapsed
/// and remaining time when the total is known, a spinner with the running count when it is not.
/// Otherwise (CI, the worker, pipes) plain lines, about every 5 % or every few seconds, without
/// escape codes. Never "N/0": an unknown total is shown as a count.
/// </summary>
public static class Progress
{
    /// <summary>True when progress is drawn live (stderr is a terminal and <c>MASKWORK_PLAIN_PROGRESS</c> is not set).</summary>
    public static bool Live => !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("MASKWORK_PLAIN_PROGRESS") is null or "" or "0";

    static readonly Lazy<IAnsiConsole> Stderr = new(() => AnsiConsole.Create(new AnsiConsoleSettings
    {
        // Live only where stderr is a terminal (checked by Live); Spectre would look at stdin, which may be redirected.
        Out = new AnsiConsoleOutput(Console.Error), Ansi = AnsiSupport.Detect, ColorSystem = ColorSystemSupport.Detect, Interactive = InteractionSupport.Yes,
    }));

    /// <summary>Runs <paramref name="work"/> with a progress task; <paramref name="total"/> null or ≤ 0 means unknown.</summary>
    public static T Run<T>(string label, long? total, string unit, Func<IProgressTask, T> work)
    {
        if (!Live)
        {
            var plain = new PlainTask(label, total, unit);
            var result = work(plain);
            plain.Done();
            return result;
        }
        var state = new LiveState(unit, total > 0 ? total.Value : 0);
        return Display(state).Start(ctx =>
        {
            var task = state.Begin(ctx, label);
            try { return work(state); }
            finally { state.End(); }
        });
    }

    /// <inheritdoc cref="Run{T}"/>
    public static void Run(string label, long? total, string unit, Action<IProgressTask> work) =>
        Run<bool>(label, total, unit, p => { work(p); return true; });

    /// <summary>The asynchronous form of <see cref="Run{T}"/>.</summary>
    public static async Task<T> RunAsync<T>(string label, long? total, string unit, Func<IProgressTask, Task<T>> work)
    {
        if (!Live)
        {
            var plain = new PlainTask(label, total, unit);
            var result = await work(plain);
            plain.Done();
            return result;
        }
        var state = new LiveState(unit, total > 0 ? total.Value : 0);
        return await Display(state).StartAsync(async ctx =>
        {
            state.Begin(ctx, label);
            try { return await work(state); }
            finally { state.End(); }
        });
    }

    /// <summary>An <see cref="IProgress{T}"/> that reports a count (plus <paramref name="offset"/>) to the task on the caller's thread.</summary>
    public static IProgress<int> Counter(this IProgressTask task, long offset = 0) => new SyncCounter(task, offset);

    sealed class SyncCounter(IProgressTask task, long offset) : IProgress<int>
    {
        public void Report(int value) => task.Report(offset + value);
    }

    static Spectre.Console.Progress Display(LiveState state)
    {
        var columns = new List<ProgressColumn> { new SpinnerColumn(), new TaskDescriptionColumn { Alignment = Justify.Left } };
        if (state.Total > 0) columns.Add(new ProgressBarColumn { Width = 20 });
        columns.Add(new CountColumn(state));
        columns.Add(new DetailColumn(state));
        // Known total: the time left (ETA); unknown: the time so far.
        columns.Add(state.Total > 0 ? new RemainingTimeColumn() : new ElapsedTimeColumn());
        return Stderr.Value.Progress().AutoClear(false).HideCompleted(false).Columns(columns.ToArray());
    }

    /// <summary>The one task of a live display (Spectre's task state holds only value types: the text lives here).</summary>
    sealed class LiveState(string unit, long total) : IProgressTask
    {
        ProgressTask? task;
        public string Unit { get; } = unit;
        public long Total { get; } = total;
        public long Count { get; private set; }
        public string Detail { get; private set; } = "";

        public ProgressTask Begin(ProgressContext ctx, string label)
        {
            task = ctx.AddTask(Markup.Escape(label), maxValue: Total > 0 ? Total : 1);
            task.IsIndeterminate = Total <= 0;
            return task;
        }

        public void Report(long done, string? detail = null)
        {
            Count = done;
            if (detail is not null) Detail = detail;
            if (task is not null && Total > 0) task.Value = done;
        }

        public void End()
        {
            if (task is null) return;
            if (task.IsIndeterminate) { task.IsIndeterminate = false; task.Value = task.MaxValue; }
            task.StopTask();
        }
    }

    /// <summary>"150/2000 steps", or "20000 samples" while the total is unknown.</summary>
    sealed class CountColumn(LiveState state) : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(state.Total > 0 ? $"{state.Count}/{state.Total} {state.Unit}" : $"{state.Count} {state.Unit}");
    }

    sealed class DetailColumn(LiveState state) : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(state.Detail, new Style(Spectre.Console.Color.Grey));
    }

    /// <summary>Plain lines: at every ~5 % of a known total, every ~5 s of an unknown one, and at the end.</summary>
    sealed class PlainTask(string label, long? total, string unit) : IProgressTask
    {
        readonly Stopwatch clock = Stopwatch.StartNew();
        long lastBucket = -1, done;
        double lastLine = double.NegativeInfinity;
        string? detail;

        public void Report(long value, string? text = null)
        {
            done = value;
            detail = text ?? detail;
            double elapsed = clock.Elapsed.TotalSeconds;
            if (total > 0)
            {
                long bucket = (long)(Math.Clamp(done / (double)total.Value, 0, 1) * 20);
                if (bucket == lastBucket) return;
                lastBucket = bucket;
                string eta = done > 0 ? Format(elapsed / done * (total.Value - done)) : "?";
                Console.Error.WriteLine($"{label}: {done}/{total} {unit}{Detail} elapsed {Format(elapsed)} eta {eta}");
            }
            else
            {
                if (elapsed - lastLine < 5) return;
                lastLine = elapsed;
                Console.Error.WriteLine($"{label}: {done} {unit}{Detail} elapsed {Format(elapsed)}");
            }
        }

        string Detail => string.IsNullOrEmpty(detail) ? "" : $" {detail}";

        public void Done() => Console.Error.WriteLine($"{label}: {done} {unit} in {Format(clock.Elapsed.TotalSeconds)}{Detail}");
    }

    static string Format(double seconds) => TimeSpan.FromSeconds(Math.Round(seconds)).ToString(seconds >= 3600 ? @"h\:mm\:ss" : @"m\:ss", CultureInfo.InvariantCulture);
}
