using System.Text.RegularExpressions;

namespace Maskwork.Worker.Tests;

/// <summary>Type=notify: under a parent named systemd with NOTIFY_SOCKET set, the worker says READY=1 once serving and STOPPING=1 on SIGTERM.</summary>
public sealed class SystemdTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("mw-worker-sd-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(dir, true); } catch (IOException) { }
    }

    [Fact]
    public void A_stand_in_systemd_parent_receives_ready_then_stopping()
    {
        using var w = new Worker(dir);
        string socket = Path.Combine(dir, "notify.sock");
        w.Start(["python3", Path.Combine(AppContext.BaseDirectory, "standin-systemd.py"), socket]);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!w.Output.Contains("notify: READY=1") && DateTime.UtcNow < deadline) Thread.Sleep(100);
        Assert.Contains("notify: READY=1", w.Output);
        Assert.DoesNotContain("STOPPING=1", w.Output);

        int worker = int.Parse(Regex.Match(w.Output, @"standin: child (\d+)").Groups[1].Value);
        Assert.Equal(0, Worker.Signal(worker, 15));
        deadline = DateTime.UtcNow.AddSeconds(60);
        while (!w.Output.Contains("standin: exit") && DateTime.UtcNow < deadline) Thread.Sleep(100);
        string output = w.Output;
        Assert.Contains("standin: exit 0", output);
        int ready = output.IndexOf("notify: READY=1", StringComparison.Ordinal), stopping = output.IndexOf("notify: STOPPING=1", StringComparison.Ordinal);
        Assert.True(stopping > ready, output);
    }
}
