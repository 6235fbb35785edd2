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

    /// <summary>
    /// The assemblies every plugin gets from the host (DESIGN.md section 4): abstractions, backend, TorchSharp
    /// (each with the assemblies it references) and the host's Microsoft.Extensions.*.Abstractions. Everything else
    /// a plugin carries in its folder stays private to it, so two plugins may use two versions of one library.
    /// </summary>
    static IReadOnlyList<AssemblyName> SharedAssemblies { get; } = SharedTypes.Select(t => t.Assembly.GetName())
        .Concat(Directory.GetFiles(AppContext.BaseDirectory, "Microsoft.Extensions.*.Abstractions.dll").Order(StringComparer.Ordinal).Select(AssemblyName.GetAssemblyName))
        .DistinctBy(n => n.Name).ToList();

    readonly List<PluginStatus> statuses = [];
    readonly List<string> extraFolders = [];
    ComponentRegistry? registry;

    /// <summary>The version plugins' ranges are checked against.</summary>
    public static NuGetVersion AbstractionsVersion { get; } = new(typeof(IModalityPlugin).Assembly.GetName().Version!.ToString(3));

    public IReadOnlyList<PluginStatus> Statuses { get { Load(); return statuses; } }

    public ComponentRegistry Registry => Load();

    /// <summary>Adds folders from <c>--plugins</c>; call before first use.</summary>
    public void AddFolders(IEnumerable<string> folders) => extraFolders.AddRange(folders.Select(Normalize));

    /// <summary>plugins/ next to the executable, then the configured folders (Maskwork:PluginFolders), then <c>--plugins</c>; relative paths are relative to the working directory.</summary>
    public IReadOnlyList<string> SearchedFolders =>
        new[] { Normalize(Path.Combine(AppContext.BaseDirectory, "plugins")) }
            .Concat(options.Value.PluginFolders.Where(f => !string.IsNullOrWhiteSpace(f)).Select(Normalize)).Concat(extraFolders)
            .Distinct(StringComparer.Ordinal).ToList();

    static string Normalize(string folder)
    {
        string full = Path.GetFullPath(folder);
        string trimmed = Path.TrimEndingDirectorySeparator(full);
        return trimmed.Length > 0 ? trimmed : full;
    }

    ComponentRegistry Load()
    {
        if (registry is not null) return registry;
        registry = new ComponentRegistry();
        BuiltIns.Register(registry);

        var candidates = new List<(string Folder, PluginManifest Manifest, NuGetVersion Version, VersionRange Range, string Assembly)>();
        foreach (var root in SearchedFolders)
        {
            if (!Directory.Exists(root))
            {
                if (root != SearchedFolders[0]) logger.LogWarning("Plugin folder {Folder} does not exist", root);
                continue;
            }
            foreach (var folder in PluginFolders(root))
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
        }

        // One plugin per id: the newest version that loads wins (a tie goes to the folder searched first);
        // newer ones that cannot load keep their own status, the older ones are reported superseded.
        foreach (var group in candidates.GroupBy(c => c.Manifest.Id))
        {
            var ordered = group.OrderByDescending(c => c.Version).ToList();
            int winner = -1;
            for (int i = 0; i < ordered.Count && winner < 0; i++)
            {
                var c = ordered[i];
                string version = c.Version.ToNormalizedString();
                var status = c.Range.Satisfies(AbstractionsVersion)
                    ? LoadOne(c.Manifest, version, c.Folder, c.Assembly, registry)
                    : new PluginStatus(c.Manifest.Id, version, "incompatible",
                        $"built for abstractions {c.Range.ToNormalizedString()}, host has {AbstractionsVersion.ToNormalizedString()}", c.Folder, []);
                Report(status);
                if (status.Status == "loaded") winner = i;
            }
            if (winner < 0) continue;
            var won = ordered[winner];
            foreach (var older in ordered.Skip(winner + 1))
                Report(new PluginStatus(older.Manifest.Id, older.Version.ToNormalizedString(), "superseded",
                    $"version {won.Version.ToNormalizedString()} in {won.Folder} wins", older.Folder, []));
        }
        return registry;
    }

    static IEnumerable<string> PluginFolders(string root) =>
        File.Exists(Path.Combine(root, "plugin.json")) ? [root]
            : Directory.GetDirectories(root).Where(d => !Path.GetFileName(d).StartsWith('.')).Order(StringComparer.Ordinal);

    PluginStatus LoadOne(PluginManifest manifest, string version, string folder, string assemblyPath, ComponentRegistry target)
    {
        Type[] types;
        try
        {
            // PreferSharedTypes stays off: only the shared set comes from the host, the rest from the plugin's folder.
            var loader = PluginLoader.CreateFromAssemblyFile(assemblyPath, config =>
            {
                foreach (var name in SharedAssemblies) config.SharedAssemblies.Add(name);
                config.PreferSharedTypes = false;
            });
            types = loader.LoadDefaultAssembly().GetTypes()
                .Where(t => typeof(IModalityPlugin).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false }).ToArray();
        }
        catch (Exception e) when (IsTypeLoadFailure(e))
        {
            return new PluginStatus(manifest.Id, version, "failed", $"type-load failure: {Describe(e)}", folder, []);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new PluginStatus(manifest.Id, version, "failed", $"cannot load {Path.GetFileName(assemblyPath)}: {Describe(e)}", folder, []);
        }
        if (types.Length != 1)
            return new PluginStatus(manifest.Id, version, "failed", $"{Path.GetFileName(assemblyPath)} has {types.Length} IModalityPlugin types; exactly one is needed", folder, []);

        IModalityPlugin plugin;
        string pluginId;
        try
        {
            plugin = (IModalityPlugin)Activator.CreateInstance(types[0])!;
            pluginId = plugin.Info.Id;
        }
        catch (Exception e) when (IsTypeLoadFailure(e))
        {
            return new PluginStatus(manifest.Id, version, "failed", $"type-load failure: {Describe(e)}", folder, []);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new PluginStatus(manifest.Id, version, "failed", $"creating {types[0].Name} threw {Unwrap(e).GetType().Name}: {Describe(e)}", folder, []);
        }
        if (pluginId != manifest.Id)
            return new PluginStatus(manifest.Id, version, "failed", $"plugin says its id is '{pluginId}' but plugin.json says '{manifest.Id}'", folder, []);

        var staging = target.For(manifest.Id);
        try
        {
            plugin.Register(staging);
            staging.Commit();
        }
        catch (Exception e) when (IsTypeLoadFailure(e))
        {
            // Register ran code that needs a member or type the host's shared assemblies lack: built against another version.
            return new PluginStatus(manifest.Id, version, "failed", $"type-load failure in Register: {Describe(e)}", folder, []);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new PluginStatus(manifest.Id, version, "failed", $"Register threw {Unwrap(e).GetType().Name}: {Describe(e)}", folder, []);
        }
        return new PluginStatus(manifest.Id, version, "loaded", null, folder, staging.RecipeNames);
    }

    static Exception Unwrap(Exception e)
    {
        while (true)
        {
            if (e is ReflectionTypeLoadException rtl && rtl.LoaderExceptions.FirstOrDefault(x => x is not null) is { } first) e = first;
            else if (e is TargetInvocationException or TypeInitializationException && e.InnerException is not null) e = e.InnerException;
            else return e;
        }
    }

    /// <summary>The runtime could not bind the plugin's code to an assembly, type or member: built against something else.</summary>
    static bool IsTypeLoadFailure(Exception e) => Unwrap(e) switch
    {
        TypeLoadException or MissingMemberException or FileLoadException or BadImageFormatException or ReflectionTypeLoadException => true,
        FileNotFoundException f => f.FileName?.Contains("Version=", StringComparison.Ordinal) == true, // an assembly, not a data file
        _ => false,
    };

    static string Describe(Exception e) => Unwrap(e).Message.Split('\n')[0].Trim();

    void Report(PluginStatus status)
    {
        statuses.Add(status);
        if (status.Status == "superseded") logger.LogWarning("Plugin {Id} {Version} superseded: {Reason}", status.Id, status.Version, status.Reason);
        else if (status.Status != "loaded") logger.LogWarning("Plugin {Id} at {Path} skipped ({Status}): {Reason}", status.Id, status.Path, status.Status, status.Reason);
    }
}
