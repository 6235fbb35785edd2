using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Maskwork.Worker.Tests;

/// <summary>The dashboard in a real headless browser (Debian's chromium, installed by test.sh): job list, states, loss curve.</summary>
public sealed class DashboardTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("mw-worker-dash-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(dir, true); } catch (IOException) { }
    }

    /// <summary>Where the test leaves its screenshot (kept after the run).</summary>
    public static string Screenshot => Path.Combine(AppContext.BaseDirectory, "dashboard-job.png");

    [Fact]
    public void The_dashboard_shows_a_job_going_from_queued_to_succeeded_and_its_loss_curve()
    {
        using var w = new Worker(dir).Start();
        var longJob = Worker.TinyJob(4000, 50);
        longJob["name"] = "long";
        long first = w.Submit(longJob)["id"]!.GetValue<long>();
        var shortJob = Worker.TinyJob(40);
        shortJob["name"] = "short";
        long second = w.Submit(shortJob)["id"]!.GetValue<long>();
        w.WaitFor(first, j => j["state"]!.GetValue<string>() == "running");

        // With a limit of one the second job waits behind the first.
        string dom = Dom(w.ClientUrl + "/");
        Assert.Matches(new Regex($"<tr data-job=\"{second}\" data-state=\"queued\">"), dom);
        Assert.Matches(new Regex($"<tr data-job=\"{first}\" data-state=\"running\">"), dom);
        Assert.Contains("<option value=\"image/mae\">", dom); // the submit form's recipes

        Assert.Equal(202, (int)w.Http.PostAsync($"jobs/{first}/cancel", null).Result.StatusCode);
        var done = w.WaitFor(second, j => j["state"]!.GetValue<string>() is "succeeded" or "failed", 120);
        Assert.Equal("succeeded", done["state"]!.GetValue<string>());
        dom = Dom(w.ClientUrl + "/");
        Assert.Matches(new Regex($"<tr data-job=\"{second}\" data-state=\"succeeded\">"), dom);
        Assert.Matches(new Regex($"<tr data-job=\"{first}\" data-state=\"cancelled\">"), dom);

        // The job's page: its loss curve (one point per logged step), its final loss, the reconstructions and the log tail.
        string page = w.ClientUrl + $"/#job/{second}";
        dom = Dom(page);
        var points = Regex.Match(dom, "id=\"loss-curve\"[^>]*data-points=\"(\\d+)\"|data-points=\"(\\d+)\"[^>]*id=\"loss-curve\"");
        Assert.True(points.Success, dom);
        Assert.Equal(40, int.Parse(points.Groups[1].Success ? points.Groups[1].Value : points.Groups[2].Value));
        Assert.Contains("<polyline", dom);
        Assert.Contains("id=\"job-state\">succeeded<", dom);
        Assert.Contains($"jobs/{second}/files/reconstructions.png", dom);
        Assert.Contains("final loss", dom);
        Assert.Contains("maskwork pretrain", dom); // the log tail

        File.Delete(Screenshot);
        Chromium($"--screenshot={Screenshot}", "--window-size=1200,900", page);
        Assert.True(File.Exists(Screenshot) && new FileInfo(Screenshot).Length > 10_000, "no screenshot written");
    }

    static string Dom(string url) => Chromium("--dump-dom", url);

    static string Chromium(params string[] args)
    {
        string exe = File.Exists("/usr/bin/chromium") ? "/usr/bin/chromium" : throw new InvalidOperationException("chromium is not installed: ./test.sh installs it (apt-get install chromium)");
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars", "--virtual-time-budget=4000", $"--user-data-dir={Path.Combine(Path.GetTempPath(), "mw-chromium-" + Environment.ProcessId)}" })
            psi.ArgumentList.Add(a);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(90_000)) { p.Kill(true); throw new TimeoutException("chromium " + string.Join(' ', args)); }
        Assert.True(p.ExitCode == 0, $"chromium exit {p.ExitCode}: {stderr.Result}");
        return stdout.Result;
    }
}
