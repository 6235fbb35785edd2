using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Plugins.Lidar.Readers;

namespace Maskwork.Plugins.Lidar.Tests;

static class Shared
{
    /// <summary>A file under ../shared/datasets/ (found by walking up from the test binaries).</summary>
    public static string Path(string relative)
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !Directory.Exists(System.IO.Path.Combine(d.FullName, "shared", "datasets"))) d = d.Parent;
        return System.IO.Path.Combine(d?.FullName ?? throw new DirectoryNotFoundException("../shared/datasets not found"), "shared", "datasets", relative);
    }

    public static string Kitti => Path("lidar/kitti-000008.bin");
    public static string B9 => Path("lidar/b9-aerial-labelled.ply");

    public static async Task<(List<Sample> Samples, DataIssueLog Issues)> Read(string path, params (string, string)[] options)
    {
        var issues = new DataIssueLog();
        var spec = new DataSpec("lidar", path) { Options = options.ToDictionary(o => o.Item1, o => o.Item2) };
        var list = new List<Sample>();
        await foreach (var s in new LidarReader().ReadAsync(spec, issues, CancellationToken.None)) list.Add(s);
        return (list, issues);
    }
}
