using System.Globalization;
using System.Text.Json.Nodes;
using Maskwork.Host.Runs;

namespace Maskwork.Host.Worker;

/// <summary>What the API shows of a job: its row, and from its run folder the progress so far.</summary>
public static class RunView
{
    /// <summary>One point of progress.jsonl (a line per logged step).</summary>
    public sealed record Point(long Step, double? Loss, double Lr, double Elapsed);

    /// <summary>The logged steps, a step's last line winning (a resumed run logs again the steps after its checkpoint).</summary>
    public static List<Point> Progress(Job job)
    {
        string path = new RunFolder(job.Run).ProgressLog;
        var byStep = new SortedDictionary<long, Point>();
        if (!File.Exists(path)) return [];
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            while (reader.ReadLine() is { } line)
            {
                try
                {
                    if (JsonNode.Parse(line) is not JsonObject o || o["step"] is null) continue;
                    long step = o["step"]!.GetValue<long>();
                    byStep[step] = new Point(step, o["loss"]?.GetValue<double>(), o["lr"]?.GetValue<double>() ?? 0, o["elapsed"]?.GetValue<double>() ?? 0);
                }
                catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or FormatException) { } // a line cut short
            }
        }
        catch (IOException) { }
        return [.. byStep.Values];
    }

    /// <summary>Steps per second over the last logged points of one attempt (elapsed restarts at each attempt).</summary>
    public static double StepsPerSecond(IReadOnlyList<Point> points)
    {
        if (points.Count < 2) return 0;
        var (a, b) = (points[^2], points[^1]);
        double dt = b.Elapsed - a.Elapsed;
        return dt > 0 ? (b.Step - a.Step) / dt : 0;
    }

    public static JsonObject Json(Job job, bool withRequest = false)
    {
        var points = Progress(job);
        var last = points.Count > 0 ? points[^1] : null;
        var o = new JsonObject
        {
            ["id"] = job.Id, ["name"] = job.Name, ["recipe"] = job.Recipe, ["state"] = job.State, ["attempts"] = job.Attempts, ["ranks"] = job.Ranks,
            ["max_attempts"] = job.MaxAttempts, ["priority"] = job.Priority, ["steps"] = job.Steps, ["run"] = job.Run,
            ["exit_code"] = job.ExitCode, ["reason"] = job.Reason, ["cancel_requested"] = job.CancelRequested, ["pid"] = job.Pid,
            ["step"] = last?.Step ?? 0, ["loss"] = last?.Loss, ["steps_per_s"] = Math.Round(job.State == JobStates.Running ? StepsPerSecond(points) : 0, 3),
            ["created"] = Time(job.Created), ["started"] = Time(job.Started), ["finished"] = Time(job.Finished),
            ["result"] = job.Result is { } r ? JsonNode.Parse(r) : null,
        };
        if (withRequest) o["request"] = JsonNode.Parse(job.Request);
        return o;
    }

    static string? Time(DateTime? t) => t?.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
}
