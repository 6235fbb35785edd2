namespace Maskwork.Tests.Shared;

/// <summary>
/// Where the process tests find the repository and the real `maskwork` build (compiled into each test project that
/// starts processes: one copy of the idea instead of four).
/// </summary>
internal static class Repo
{
#if DEBUG
    public const string Configuration = "Debug";
#else
    public const string Configuration = "Release";
#endif

    /// <summary>The folder holding Platform.sln above the test assembly.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>host/Maskwork.Host/bin/&lt;the configuration these tests were built with&gt;/net10.0.</summary>
    public static string HostFolder { get; } = Path.Combine(Root, "host", "Maskwork.Host", "bin", Configuration, "net10.0");

    static string FindRoot()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "Platform.sln"))) d = d.Parent;
        return d?.FullName ?? throw new InvalidOperationException("Platform.sln not found above " + AppContext.BaseDirectory);
    }
}
