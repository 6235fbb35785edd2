using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using NuGet.Versioning;

namespace Maskwork.EndToEnd.Tests;

/// <summary>
/// Versions mean something (CHANGELOG.md): the shared packages' version follows their public API compared with the
/// last release recorded in build/releases/, every API change is in the changelog, and the host's plugin check
/// applies the same rules — a plugin built against the last release loads while the major version is the same,
/// a plugin for another major version is reported incompatible with the reason.
/// </summary>
[Collection(E2ECollection.Name)]
public sealed class VersioningTests(TemplateFixture fixture)
{
    static readonly string Releases = Path.Combine(E2E.RepoRoot, "build", "releases");

    static HashSet<string> ApiLines(string file) =>
        File.ReadAllLines(file).Where(l => l.Trim().Length > 0 && !l.StartsWith('#')).ToHashSet(StringComparer.Ordinal);

    /// <summary>The type a PublicAPI.txt line belongs to, short name: "  Maskwork.Backend.Training.FlatAdamW::ctor(...)" → "FlatAdamW".</summary>
    static string TypeOf(string line)
    {
        string t = line.Trim();
        int colons = t.IndexOf("::", StringComparison.Ordinal);
        if (colons >= 0) t = t[..colons];
        else t = Regex.Match(t, @"(?:class|record|struct|interface|enum|delegate)\s+(\S+)").Groups[1].Value;
        t = Regex.Replace(t, "<.*", "");
        return t[(t.LastIndexOf('.') + 1)..].Split('`')[0].Split('+')[0];   // a nested type counts as its outer type
    }

    /// <summary>True when <paramref name="typeLine"/> is a type declaration that <paramref name="now"/> still declares with all its bases.</summary>
    static bool StillDeclared(string typeLine, HashSet<string> now)
    {
        if (typeLine.StartsWith(' ') || typeLine.Contains("::", StringComparison.Ordinal)) return false;
        static (string Head, HashSet<string> Bases) Split(string line)
        {
            int colon = line.IndexOf(" : ", StringComparison.Ordinal);
            return colon < 0 ? (line.Trim(), []) : (line[..colon].Trim(), line[(colon + 3)..].Split(", ").Select(b => b.Trim()).ToHashSet());
        }
        var (head, bases) = Split(typeLine);
        return now.Where(l => !l.StartsWith(' ')).Select(Split).Any(n => n.Head == head && bases.IsSubsetOf(n.Bases));
    }

    [Fact]
    public void The_version_follows_the_public_api_of_the_last_release()
    {
        var release = NuGetVersion.Parse(TemplateFixture.ReleaseVersion);
        var current = NuGetVersion.Parse(TemplateFixture.RepoVersion);
        Assert.True(current > release, $"version {current} must be above the last release {release} (Directory.Build.props)");
        string changelog = File.ReadAllText(Path.Combine(E2E.RepoRoot, "CHANGELOG.md"));
        var unreleased = Regex.Match(changelog, @"^## Unreleased[^\n]*\n(?<body>.*?)(?=^## )", RegexOptions.Multiline | RegexOptions.Singleline);
        Assert.True(unreleased.Success, "CHANGELOG.md needs an '## Unreleased' section above the last release");
        Assert.Contains($"({current})", unreleased.Value.Split('\n')[0]);

        foreach (var (library, folder) in new[] { ("Maskwork.Abstractions", "abstractions"), ("Maskwork.Backend", "backend") })
        {
            Assert.True(File.Exists(Path.Combine(Releases, $"{library}.{release}.nupkg")), $"build/releases/ lacks {library} {release}");
            var released = ApiLines(Path.Combine(Releases, $"{library}.PublicAPI.txt"));
            var now = ApiLines(Path.Combine(E2E.RepoRoot, folder, library, "PublicAPI.txt"));
            // A type that only gained interfaces ("class X" → "class X : IY") is an addition, not a removal.
            var removed = released.Except(now).Where(line => !StillDeclared(line, now)).Order(StringComparer.Ordinal).ToList();
            var added = now.Except(released).Order(StringComparer.Ordinal).ToList();
            bool suppressions = File.Exists(Path.Combine(E2E.RepoRoot, folder, library, "CompatibilitySuppressions.xml"));
            if (removed.Count > 0)
                Assert.True(current.Major > release.Major,
                    $"{library}: {removed.Count} public members of {release} are gone or changed, which needs a major version (or keep them [Obsolete]):\n  " + string.Join("\n  ", removed.Take(20)));
            else
                Assert.False(suppressions && current.Major == release.Major, $"{library}: CompatibilitySuppressions.xml within major version {current.Major}");
            if (added.Count > 0)
                Assert.True(current.Major > release.Major || current.Minor > release.Minor,
                    $"{library}: {added.Count} public members were added since {release}, which needs a minor version:\n  " + string.Join("\n  ", added.Take(20)));
            // Every changed type is named in the changelog's Unreleased section.
            var undocumented = removed.Concat(added).Select(TypeOf).Where(t => t.Length > 0).Distinct()
                .Where(t => !unreleased.Groups["body"].Value.Contains(t, StringComparison.Ordinal)).ToList();
            Assert.True(undocumented.Count == 0, $"{library}: CHANGELOG.md (Unreleased) does not mention {string.Join(", ", undocumented)}");
        }
    }

    [Fact]
    public void A_plugin_built_against_the_last_release_loads_within_its_major_version()
    {
        string plugins = fixture.LegacyPlugins;
        string folder = Path.Combine(plugins, "acme.legacy");
        var release = NuGetVersion.Parse(TemplateFixture.ReleaseVersion);
        var host = NuGetVersion.Parse(E2E.HostAbstractionsVersion);
        string range = (string)JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "plugin.json")))!["abstractions"]!;
        Assert.Equal($"[{release}, {release.Major + 1}.0.0)", range);

        var entry = E2E.Single(E2E.Plugins(E2E.Maskwork("plugins", "--plugins", plugins, "--json")), "acme.legacy");
        if (host.Major == release.Major)
        {
            Assert.Equal("loaded", (string?)entry["status"]);
            // It runs, too: the release's binary against this host's shared assemblies.
            string csv = Path.Combine(fixture.Root, "legacy-series.csv");
            File.WriteAllLines(csv, ["time,value", .. Enumerable.Range(0, 1024).Select(t => FormattableString.Invariant($"{t},{Math.Sin(t * 0.1):F5}"))]);
            var r = E2E.Maskwork("pretrain", "--plugins", plugins, "--recipe", "acme.legacy/mae", "--data", $"acme.legacy-csv:{csv}", "--steps", "3",
                "--out", Path.Combine(fixture.Root, "runs", "legacy"), "--json").Ok();
            Assert.True(double.IsFinite((double)r.Json()["final_loss"]!), r.ToString());
        }
        else
        {
            Assert.Equal("incompatible", (string?)entry["status"]);
            Assert.Equal($"built for abstractions {range}, host has {host}", (string?)entry["reason"]);
        }
    }

    [Fact]
    public void The_plugin_range_check_follows_semver()
    {
        var host = NuGetVersion.Parse(E2E.HostAbstractionsVersion);
        string dir = Path.Combine(fixture.Root, "ranges");
        var cases = new (string Name, string Range, string Status)[]
        {
            ("e2e.lowest-minor", $"[{host.Major}.0.0, {host.Major + 1}.0.0)", "loaded"),              // built against an earlier minor of this major
            ("e2e.this-version", $"[{host}, {host.Major + 1}.0.0)", "loaded"),
            ("e2e.newer-minor", $"[{host.Major}.{host.Minor + 1}.0, {host.Major + 1}.0.0)", "incompatible"),   // needs a newer host
            ("e2e.previous-major", $"[{Math.Max(0, host.Major - 1)}.0.0, {host.Major}.0.0)", "incompatible"),
            ("e2e.next-major", $"[{host.Major + 1}.0.0, {host.Major + 2}.0.0)", "incompatible"),
        };
        foreach (var c in cases)
        {
            // One folder each: a loadable copy must carry the probe's own id, and one id loads once.
            string plugins = Path.Combine(dir, c.Name), folder = Path.Combine(plugins, "probe");
            E2E.CopyTestPlugin("E2E.Probe", folder);
            E2E.WriteManifest(folder, "e2e.probe", "1.0.0", c.Range, "E2E.Probe.dll");
            var entry = E2E.Single(E2E.Plugins(E2E.Maskwork("plugins", "--plugins", plugins, "--json")), "e2e.probe");
            Assert.True(c.Status == (string?)entry["status"], $"{c.Name} {c.Range}: {entry.ToJsonString()}");
            if (c.Status == "incompatible")
                Assert.Equal($"built for abstractions {c.Range}, host has {host}", (string?)entry["reason"]);
        }
    }
}
