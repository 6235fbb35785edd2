using System.Reflection;

namespace Maskwork.EndToEnd.Tests;

/// <summary>
/// The public API of each shared package is checked in (PublicAPI.txt next to its project): a change to it
/// shows in review. After an intended change run build/update-public-api.sh and commit the file.
/// </summary>
public sealed class PublicApiTests
{
    public static TheoryData<string> Packages => new() { "Maskwork.Abstractions", "Maskwork.Backend" };

    static string ApiFile(string package) => Path.Combine(E2E.RepoRoot,
        package == "Maskwork.Abstractions" ? "abstractions" : "backend", package, "PublicAPI.txt");

    [Theory]
    [MemberData(nameof(Packages))]
    public void Public_api_matches_the_checked_in_file(string package)
    {
        string actual = PublicApi.Describe(Assembly.Load(package));
        string file = ApiFile(package);
        if (Environment.GetEnvironmentVariable("MASKWORK_UPDATE_PUBLIC_API") == "1")
        {
            File.WriteAllText(file, actual);
            return;
        }
        Assert.True(File.Exists(file), $"{file} is missing: run build/update-public-api.sh");
        var expected = File.ReadAllText(file).ReplaceLineEndings("\n").Split('\n');
        var lines = actual.Split('\n');
        var removed = expected.Except(lines).ToList();
        var added = lines.Except(expected).ToList();
        Assert.True(removed.Count == 0 && added.Count == 0,
            $"The public API of {package} differs from {file}. If intended, run build/update-public-api.sh and commit the file.\n" +
            $"removed:\n  {string.Join("\n  ", removed)}\nadded:\n  {string.Join("\n  ", added)}");
    }

    [Fact]
    public void The_describer_sees_a_removed_member()
    {
        string api = PublicApi.Describe(typeof(Maskwork.Abstractions.DataSpec).Assembly);
        Assert.Contains("  Maskwork.Abstractions.DataSpec::System.String Option(System.String key, System.String fallback)", api.Split('\n'));
        Assert.Contains("sealed record Maskwork.Abstractions.DataSpec : System.IEquatable<Maskwork.Abstractions.DataSpec>", api.Split('\n'));
    }
}
