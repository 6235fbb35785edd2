using System.Text.Json;
using System.Text.Json.Serialization;
using NuGet.Versioning;

namespace Maskwork.Host.Plugins;

/// <summary>plugin.json: who the plugin is and which abstractions it was built for.</summary>
public sealed record PluginManifest(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("abstractions")] string Abstractions,
    [property: JsonPropertyName("entryAssembly")] string EntryAssembly,
    [property: JsonPropertyName("description")] string? Description)
{
    /// <summary>Manifests are small; anything larger is not one.</summary>
    public const int MaxManifestBytes = 64 * 1024;

    /// <summary>Reads and validates a manifest; every problem is a <see cref="FormatException"/> naming the field.</summary>
    public static (PluginManifest Manifest, NuGetVersion Version, VersionRange Range, string Assembly) Load(string folder)
    {
        string path = Path.Combine(folder, "plugin.json");
        if (!File.Exists(path)) throw new FormatException("no plugin.json in the folder");
        PluginManifest? m;
        var info = new FileInfo(path);
        if (info.Length > MaxManifestBytes) throw new FormatException($"plugin.json is {info.Length} bytes; a manifest is at most {MaxManifestBytes}");
        try { m = JsonSerializer.Deserialize<PluginManifest>(File.ReadAllText(path)); }
        catch (JsonException e) { throw new FormatException($"plugin.json is not valid JSON: {e.Message}"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new FormatException($"plugin.json cannot be read: {e.Message}"); }
        if (m is null) throw new FormatException("plugin.json is empty");
        if (string.IsNullOrWhiteSpace(m.Id) || !m.Id.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '-' or '_'))
            throw new FormatException($"plugin.json: id '{m.Id}' must be lowercase letters, digits, '.', '-' or '_'");
        if (!NuGetVersion.TryParse(m.Version, out var version)) throw new FormatException($"plugin.json: version '{m.Version}' is not SemVer");
        if (!VersionRange.TryParse(m.Abstractions ?? "", out var range)) throw new FormatException($"plugin.json: abstractions '{m.Abstractions}' is not a version range such as [1.0.0, 2.0.0)");
        if (string.IsNullOrWhiteSpace(m.EntryAssembly)) throw new FormatException("plugin.json: entryAssembly is missing");
        string full = Path.GetFullPath(Path.Combine(folder, m.EntryAssembly));
        string root = Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        if (!full.StartsWith(root, StringComparison.Ordinal)) throw new FormatException($"plugin.json: entryAssembly '{m.EntryAssembly}' points outside the plugin folder");
        if (!File.Exists(full)) throw new FormatException($"plugin.json: entryAssembly '{m.EntryAssembly}' does not exist");
        if (File.ResolveLinkTarget(full, returnFinalTarget: true) is { } target && !Path.GetFullPath(target.FullName).StartsWith(root, StringComparison.Ordinal))
            throw new FormatException($"plugin.json: entryAssembly '{m.EntryAssembly}' is a link to {target.FullName}, outside the plugin folder");
        return (m, version, range, full);
    }
}
