using Maskwork.Abstractions;
using Maskwork.Backend.Devices;
using Maskwork.Backend.Training;
using Maskwork.Host.Cli;
using Maskwork.Host.Plugins;
using Maskwork.Host.Runs;
using Microsoft.Extensions.Options;
using TorchSharp;
using static TorchSharp.torch;

namespace Maskwork.Host.Commands;

/// <summary>What every command shares: settings, the plugin catalog, and turning a run folder back into a model.</summary>
public sealed class Workspace(IOptions<MaskworkOptions> options, PluginCatalog catalog)
{
    public MaskworkOptions Options => options.Value;
    public PluginCatalog Catalog => catalog;

    /// <summary>Loads libtorch, sets threads and resolves the device, or fails with the diagnosis.</summary>
    public Device Device(string choice)
    {
        UseConfiguredLibtorch();
        if (!TorchRuntime.TryLoad(out var detail)) throw new CommandException(detail + " Run `maskwork doctor` for details.");
        int threads = Options.Threads > 0 ? Options.Threads : Environment.ProcessorCount;
        if (get_num_threads() != threads) set_num_threads(threads);
        Device device;
        try { device = TorchRuntime.Select(choice); }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            throw new CommandException(e.Message + (choice == "cuda" && Options.Libtorch is null
                ? " Or name a CUDA libtorch already on this machine (a PyTorch install's torch/lib) with the Libtorch setting (MASKWORK__LIBTORCH=/path/to/torch/lib); `maskwork doctor` checks it." : ""));
        }
        if (choice == "auto" && device.type == DeviceType.CPU)
            Console.Error.WriteLine($"--device auto: no usable CUDA device ({(Options.Libtorch is null ? "the packaged libtorch is CPU-only; set Libtorch to a CUDA libtorch" : $"libtorch from {Options.Libtorch}")}); training on the CPU");
        return device;
    }

    /// <summary>Loads the libtorch the Libtorch setting names (before TorchSharp's first use), once.</summary>
    public void UseConfiguredLibtorch()
    {
        if (Options.Libtorch is not { Length: > 0 } folder) return;
        try { UserLibtorch.Use(folder, Options.LibtorchShim is { Length: > 0 } shim ? shim : null); }
        catch (LibtorchException e) { throw new CommandException(e.Message); }
    }

    /// <summary>Reader options from <c>--set data.&lt;name&gt;=&lt;value&gt;</c> (the only kind of --set an evaluation or data verb takes).</summary>
    public static Dictionary<string, string> DataOptions(IReadOnlyList<string>? sets)
    {
        var options = new Dictionary<string, string>();
        foreach (var s in sets ?? [])
        {
            int eq = s.IndexOf('=');
            if (eq <= 0 || !s.StartsWith("data.", StringComparison.Ordinal)) throw new UsageException($"--set here takes data.<name>=<value>, got '{s}'");
            options[s[5..eq]] = s[(eq + 1)..];
        }
        return options;
    }

    /// <summary><paramref name="over"/>'s entries over a copy of <paramref name="baseline"/>.</summary>
    public static Dictionary<string, string> Merge(IReadOnlyDictionary<string, string> baseline, IReadOnlyDictionary<string, string> over)
    {
        var merged = new Dictionary<string, string>(baseline);
        foreach (var (k, v) in over) merged[k] = v;
        return merged;
    }

    public IRecipe Recipe(string name) => catalog.Registry.Recipe(name) ?? throw new CommandException(
        $"recipe '{name}' is not available: its plugin is missing or failed to load. Plugin folders searched: {string.Join(", ", catalog.SearchedFolders)}. See `maskwork plugins`.");

    /// <summary>Builds a run's model exactly as pretraining did (same seed, same options); loads its newest checkpoint unless <paramref name="randomInit"/>.</summary>
    public (JobConfig Job, IRecipe Recipe, MaskedModel Model, Device Device, ScalarType Precision) OpenModel(RunFolder run, bool randomInit, string? device = null)
    {
        var job = JobConfig.Load(run.Config);
        var recipe = Recipe(job.Recipe);
        var dev = Device(device ?? job.Device);
        var precision = Precision.Parse(job.Precision);
        manual_seed(job.Seed);
        var parts = recipe.Build(job.ModelOptions(recipe), new BuildContext(dev, job.DataSpec()) { Tokenizers = catalog.Registry, RunFolder = run.Path, Seed = job.Seed });
        var model = new MaskedModel(parts);
        if (!randomInit)
        {
            string path = run.NewestCheckpoint() ?? throw new CommandException($"{run.Path} has no checkpoint yet; pretrain or resume it first");
            try
            {
                var (_, tensors) = Checkpoint.Load(path);
                var state = model.state_dict();
                Checkpoint.Restore(path, tensors, state.Select(kv => ("model." + kv.Key, kv.Value)));
                foreach (var t in tensors.Values) t.Dispose();
            }
            catch (CheckpointException e) { throw new CommandException(e.Message); }
        }
        model.to(dev);
        model.eval();
        return (job, recipe, model, dev, precision);
    }
}
