using System.Reflection;
using Maskwork.Abstractions;
using Maskwork.Backend.Training;
using McMaster.NETCore.Plugins;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NuGet.Versioning;

namespace Maskwork.Host.Plugins;

/// <summary>What happened to one plugin folder.</summary>
public sealed record PluginStatus(string Id, string Version, string Status, string? Reason, string Path, IReadOnlyList<string> Recipes);

/// <summary>
/// Finds plugin folders, checks their manifests and abstractions range, loads each in its own
/// load context (sharing only the abstractions, backend, TorchSharp and logging abstractions with
/// the host), and registers their components. A broken plugin is reported and skipped.
/// </summary>
public sealed class PluginCatalog(IOptions<MaskworkOptions> options, ILogger<PluginCatalog> logger)
{
    static readonly Type[] SharedTypes = [typeof(IModalityPlugin), typeof(TorchSharp.torch), typeof(Trainer), typeof(ILogger)];

    readonly List<PluginStatus> statuses = [];
    readonly List<string> extraFolders = [];
    ComponentRegistry? registry;

    /// <summary>The version plugins' ranges are checked against.</summary>
    public static NuGetVersion AbstractionsVersion { get; } = new(typeof(IModalityPlugin).Assembly.GetName().Version!.ToString(3));

    public IReadOnlyList<PluginStatus> Statuses { get { Load(); return statuses; } }

    public ComponentRegistry Registry => Load();

    /// <summary>Adds folders from <c>--plugins</c>; call before first use.</summary>
    public void AddFolders(IEnumerable<string> folders) => extraFolders.AddRange(folders.Select(Path.GetFullPath));

    public IReadOnlyList<string> SearchedFolders =>
        new[] { Path.Combine(AppContext.BaseDirectory, "plugins") }
            .Concat(options.Value.PluginFolders.Select(Path.GetFullPath)).Concat(extraFolders).Distinct().ToList();

    ComponentRegistry Load()
    {
        if (registry is not null) return registry;
        registry = new ComponentRegistry();
        BuiltIns.Register(registry);

        var candidates = new List<(string Folder, PluginManifest Manifest, NuGetVersion Version, VersionRange Range, string Assembly)>();
        foreach (var folder in SearchedFolders.Where(Directory.Exists).SelectMany(PluginFolders))
        {
            try
            {
                var (m, v, r, a) = PluginManifest.Load(folder);
                candidates.Add((folder, m, v, r, a));
            }
            catch (FormatException e)
            {
                Report(new PluginStatus(Path.GetFileName(folder), "", "invalid", e.Message, folder, []));
            }
        }

        foreach (var group in candidates.GroupBy(c => c.Manifest.Id))
        {
            var ordered = group.OrderByDescending(c => c.Version).ToList();
            foreach (var older in ordered.Skip(1))
                Report(new PluginStatus(older.Manifest.Id, older.Version.ToNormalizedString(), "superseded",
                    $"version {ordered[0].Version.ToNormalizedString()} in {ordered[0].Folder} wins", older.Folder, []));
            var c = ordered[0];
            string version = c.Version.ToNormalizedString();
            if (!c.Range.Satisfies(AbstractionsVersion))
            {
                Report(new PluginStatus(c.Manifest.Id, version, "incompatible",
                    $"built for abstractions {c.Range.PrettyPrint()}, host has {AbstractionsVersion.ToNormalizedString()}", c.Folder, []));
                continue;
            }
            Report(LoadOne(c.Manifest, version, c.Folder, c.Assembly, registry));
        }
        return registry;
    }

    static IEnumerable<string> PluginFolders(string root) =>
        File.Exists(Path.Combine(root, "plugin.json")) ? [root] : Directory.GetDirectories(root).Order(StringComparer.Ordinal);

    PluginStatus LoadOne(PluginManifest manifest, string version, string folder, string assemblyPath, ComponentRegistry target)
    {
        IModalityPlugin[] plugins;
        try
        {
            var loader = PluginLoader.CreateFromAssemblyFile(assemblyPath, SharedTypes, config => config.PreferSharedTypes = true);
            var assembly = loader.LoadDefaultAssembly();
            plugins = assembly.GetTypes()
                .Where(t => typeof(IModalityPlugin).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
                .Select(t => (IModalityPlugin)Activator.CreateInstance(t)!).ToArray();
        }
        catch (Exception e) when (e is ReflectionTypeLoadException or TypeLoadException or FileLoadException or FileNotFoundException
                                     or BadImageFormatException or MissingMethodException or TargetInvocationException or InvalidCastException)
        {
            var inner = e is ReflectionTypeLoadException rtl ? rtl.LoaderExceptions.FirstOrDefault(x => x is not null) ?? e : e.InnerException ?? e;
            return new PluginStatus(manifest.Id, version, "failed", $"type-load failure: {inner.Message.Split('\n')[0]}", folder, []);
        }
        if (plugins.Length != 1)
            return new PluginStatus(manifest.Id, version, "failed", $"{Path.GetFileName(assemblyPath)} has {plugins.Length} IModalityPlugin types; exactly one is needed", folder, []);
        var plugin = plugins[0];
        if (plugin.Info.Id != manifest.Id)
            return new PluginStatus(manifest.Id, version, "failed", $"plugin says its id is '{plugin.Info.Id}' but plugin.json says '{manifest.Id}'", folder, []);
        var staging = target.For(manifest.Id);
        try
        {
            plugin.Register(staging);
            staging.Commit();
        }
        catch (Exception e)
        {
            return new PluginStatus(manifest.Id, version, "failed", $"Register threw {e.GetType().Name}: {e.Message.Split('\n')[0]}", folder, []);
        }
        return new PluginStatus(manifest.Id, version, "loaded", null, folder, staging.RecipeNames);
    }

    void Report(PluginStatus status)
    {
        statuses.Add(status);
        if (status.Status == "superseded") logger.LogWarning("Plugin {Id} {Version} superseded: {Reason}", status.Id, status.Version, status.Reason);
        else if (status.Status != "loaded") logger.LogWarning("Plugin {Id} at {Path} skipped ({Status}): {Reason}", status.Id, status.Path, status.Status, status.Reason);
    }
}
