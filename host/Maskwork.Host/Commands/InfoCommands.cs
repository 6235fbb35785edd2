using System.ComponentModel;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Maskwork.Abstractions;
using Maskwork.Backend.Devices;
using Maskwork.Backend.Distributed;
using Maskwork.Host.Cli;
using Spectre.Console;
using static TorchSharp.torch;

namespace Maskwork.Host.Commands;

/// <summary><c>plugins</c>, <c>recipes</c> and <c>doctor</c>.</summary>
public sealed class InfoCommands(Workspace workspace)
{
    public int Plugins(Output output)
    {
        var list = workspace.Catalog.Statuses.Select(p => new { id = p.Id, version = p.Version, status = p.Status, reason = p.Reason, path = p.Path, recipes = p.Recipes }).ToList();
        output.Result(list);
        if (list.Count == 0) { output.Line($"no plugins found in {string.Join(", ", workspace.Catalog.SearchedFolders)}"); return 0; }
        var table = Output.Table("plugin", "version", "status", "recipes, or why it did not load", "folder");
        foreach (var p in list)
            table.AddRow(Output.Cell(p.id, "bold"), Output.Cell(p.version), Output.Cell(p.status, p.status == "loaded" ? "green" : "yellow"),
                Output.Cell(p.reason ?? string.Join(", ", p.recipes)), Output.Cell(p.path, "grey"));
        output.Show(table);
        return 0;
    }

    /// <summary>Every recipe (defaults and what each option means), or one named recipe in full.</summary>
    public int Recipes(string? name, Output output)
    {
        var recipes = workspace.Catalog.Registry.Recipes.Where(r => name is null || r.Recipe.Name == name).ToList();
        if (name is not null && recipes.Count == 0)
            throw new CommandException($"recipe '{name}' not found. Known recipes: {string.Join(", ", workspace.Catalog.Registry.Recipes.Select(r => r.Recipe.Name).DefaultIfEmpty("none"))}");
        var list = recipes.Select(r =>
        {
            var train = OptionsJson.ToJson(r.Recipe.Training);
            var model = OptionsJson.ToJson(r.Recipe.DefaultOptions);
            var options = new JsonArray(Describe("train", train, r.Recipe.Training.GetType()).Concat(Describe("model", model, r.Recipe.OptionsType))
                .Select(o => (JsonNode)new JsonObject { ["key"] = o.Key, ["value"] = o.Value?.DeepClone(), ["description"] = o.Description }).ToArray());
            return new JsonObject
            {
                ["name"] = r.Recipe.Name, ["plugin"] = r.Owner, ["description"] = r.Recipe.Description, ["data"] = r.Recipe.DefaultData,
                ["train"] = train, ["model"] = model, ["options"] = options,
            };
        }).ToList();
        if (name is null) output.Result(new JsonArray(list.ToArray<JsonNode?>()));
        else output.Result(list[0]);
        if (output.Json) return 0;

        if (name is null)
        {
            var summary = Output.Table("recipe", "plugin", "what", "default data");
            foreach (var r in list) summary.AddRow(Output.Cell((string?)r["name"], "bold"), Output.Cell((string?)r["plugin"]), Output.Cell((string?)r["description"]), Output.Cell((string?)r["data"]));
            output.Show(summary);
            output.Line("");
        }
        foreach (var r in list)
        {
            var table = Output.Table("option", "value", "what it does");
            table.Title = new TableTitle($"[bold]{Markup.Escape((string?)r["name"] ?? "")}[/] — {Markup.Escape((string?)r["description"] ?? "")} (data: {Markup.Escape((string?)r["data"] ?? "")})");
            foreach (var o in r["options"]!.AsArray())
                table.AddRow(Output.Cell((string?)o!["key"], "bold"), Output.Cell(o["value"]?.ToJsonString() ?? "null", "cyan"), Output.Cell((string?)o["description"]));
            output.Show(table);
        }
        output.Line("Override any option with --set <option>=<value> (pretrain) or in a job file's \"train\"/\"model\" sections.");
        return 0;
    }

    /// <summary>The options of a record as (train.x / model.x, value, its [Description]) in JSON order.</summary>
    static IEnumerable<(string Key, JsonNode? Value, string Description)> Describe(string prefix, JsonObject values, Type type)
    {
        var byJsonName = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            string jsonName = property.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? JsonNamingPolicy.SnakeCaseLower.ConvertName(property.Name);
            byJsonName[jsonName] = property.GetCustomAttribute<DescriptionAttribute>()?.Description ?? "";
        }
        foreach (var (key, value) in values) yield return ($"{prefix}.{key}", value, byJsonName.GetValueOrDefault(key, ""));
    }

    public int Doctor(Output output)
    {
        string? libtorchError = null;
        try { workspace.UseConfiguredLibtorch(); }
        catch (CommandException e) { libtorchError = e.Message; }
        bool nativeOk = libtorchError is null & TorchRuntime.TryLoad(out var detail);
        if (libtorchError is not null) detail = libtorchError;
        string device = "none", bf16 = "unknown";
        int threads = 0;
        bool cudaOk = false;
        int cudaDevices = 0;
        string? cudaName = null, cudaMatmul = null;
        if (nativeOk)
        {
            cudaOk = cuda.is_available();
            cudaDevices = cudaOk ? (int)cuda.device_count() : 0;
            if (cudaOk) (cudaName, cudaMatmul) = (GpuName(), CudaMatmulCheck());
            device = cudaOk ? $"cuda ({cudaDevices} devices), cpu" : "cpu";
            threads = workspace.Options.Threads > 0 ? workspace.Options.Threads : Environment.ProcessorCount;
            try
            {
                using var a = ones(8, 8, dtype: ScalarType.BFloat16);
                using var b = a.matmul(a);
                bf16 = Precision.CpuHasBf16 == false ? "ok, emulated (this CPU has no bf16 instructions: slower than fp32)" : "ok";
            }
            catch (Exception e) { bf16 = "failed: " + e.Message.Split('\n')[0]; }
        }
        var plugins = workspace.Catalog.Statuses;
        bool pluginsOk = plugins.Count > 0 && plugins.All(p => p.Status is "loaded" or "superseded");
        string fashion = Directory.Exists("/usr/share/datasets/fashion-mnist") ? "/usr/share/datasets/fashion-mnist"
            : "missing (apt-get install dataset-fashion-mnist)";
        string font = Backend.Visuals.Fonts.Path ?? "missing: pictures have no labels (apt-get install fonts-dejavu-core, or set MASKWORK_FONT)";
        string ffmpeg = FfmpegVersion() ?? "missing (optional: the video reader needs it; apt-get install ffmpeg)";
        var loaded = UserLibtorch.LoadedFiles();
        string libtorchFolder = UserLibtorch.Folder ?? workspace.Options.Libtorch ?? AppContext.BaseDirectory.TrimEnd('/');
        string libtorchVersion = UserLibtorch.Folder is null ? (workspace.Options.Libtorch is null ? $"{UserLibtorch.ShimLibtorchVersion} (packaged)" : UserLibtorch.ReadVersion(workspace.Options.Libtorch) ?? "unknown")
            : UserLibtorch.Version ?? "unknown (the folder has no ../version.py or build-version)";
        bool mpiOk = OpenMpi.Available(out var mpiDetail);
        string mpi = (mpiOk ? "ok" : "missing") + (Communicators.LaunchedWorldSize is { } n ? $", launched by mpirun as rank {Communicators.LaunchedRank} of {n}" : "")
            + (mpiOk ? "" : " (optional: data-parallel training needs it; apt-get install openmpi-bin libopenmpi-dev)");
        var result = new
        {
            backend = $"TorchSharp {typeof(TorchSharp.torch).Assembly.GetName().Version?.ToString(3)}",
            device, native_ok = nativeOk, native_detail = detail, plugins_ok = pluginsOk, threads, bf16,
            plugins = plugins.Select(p => new { id = p.Id, version = p.Version, status = p.Status, reason = p.Reason }).ToList(),
            fashion_mnist = fashion, plugin_folders = workspace.Catalog.SearchedFolders, font, ffmpeg,
            libtorch_folder = libtorchFolder, libtorch_version = libtorchVersion, libtorch_files = loaded, libtorch_shim = UserLibtorch.Shim,
            cuda_available = cudaOk, cuda_devices = cudaDevices, cuda_device_name = cudaName, cuda_matmul = cudaMatmul,
            mpi, mpi_ok = mpiOk, mpi_detail = mpiDetail,
        };
        output.Result(result);
        var table = Output.Table("check", "result");
        table.AddRow(Output.Cell("backend"), Output.Cell(result.backend));
        table.AddRow(Output.Cell("native libraries"), Output.Cell($"{(nativeOk ? "ok" : "FAILED")} — {detail}", nativeOk ? null : "red"));
        table.AddRow(Output.Cell("device"), Output.Cell($"{device}; threads {threads}; bf16 {bf16}"));
        table.AddRow(Output.Cell("libtorch"), Output.Cell($"{libtorchVersion} from {libtorchFolder}{(UserLibtorch.Shim is null ? "" : $"; shim {UserLibtorch.Shim}")}"));
        table.AddRow(Output.Cell("libtorch files loaded"), Output.Cell(loaded.Count == 0 ? "none" : string.Join("\n", loaded)));
        table.AddRow(Output.Cell("cuda"), Output.Cell(cudaOk ? $"{cudaDevices} device(s): {cudaName ?? "name unknown"}; matmul vs CPU: {cudaMatmul}"
            : "not available" + (workspace.Options.Libtorch is null ? " (the packaged libtorch is CPU-only; set Libtorch to a CUDA libtorch folder)" : "")));
        table.AddRow(Output.Cell("OpenMPI"), Output.Cell(mpi, mpiOk ? null : "yellow"));
        table.AddRow(Output.Cell("plugins"), Output.Cell($"{(pluginsOk ? "ok" : "PROBLEMS")} — {string.Join(", ", plugins.Select(p => $"{p.Id} {p.Version} {p.Status}{(p.Reason is null ? "" : $" ({p.Reason})")}"))}", pluginsOk ? null : "yellow"));
        table.AddRow(Output.Cell("plugin folders"), Output.Cell(string.Join(", ", workspace.Catalog.SearchedFolders)));
        table.AddRow(Output.Cell("fashion-mnist"), Output.Cell(fashion));
        table.AddRow(Output.Cell("picture font"), Output.Cell(font));
        table.AddRow(Output.Cell("ffmpeg (optional)"), Output.Cell(ffmpeg));
        output.Show(table);
        return nativeOk ? 0 : 1;
    }

    /// <summary>A 256×256 fp32 matmul on CUDA against the same on the CPU: "ok (max rel err …)" or what went wrong.</summary>
    static string CudaMatmulCheck()
    {
        try
        {
            using var scope = NewDisposeScope();
            using var g = new Generator(7);
            var a = randn([256, 256], generator: g);
            var expected = a.mm(a);
            var got = a.cuda().mm(a.cuda()).cpu();
            double err = got.sub(expected).abs().max().item<float>() / Math.Max(1e-12, expected.abs().max().item<float>());
            return $"{(err < 1e-3 ? "ok" : "MISMATCH")} (max relative error {err:E2})";
        }
        catch (Exception e) { return "failed: " + e.Message.Split('\n')[0]; }
    }

    /// <summary>The first GPU's name, from the NVIDIA driver's /proc entry or nvidia-smi (TorchSharp has no device-name call).</summary>
    static string? GpuName()
    {
        try
        {
            foreach (var info in Directory.Exists("/proc/driver/nvidia/gpus") ? Directory.GetFiles("/proc/driver/nvidia/gpus", "information", SearchOption.AllDirectories).Order().ToArray() : [])
                foreach (var line in File.ReadLines(info))
                    if (line.StartsWith("Model:", StringComparison.Ordinal)) return line[6..].Trim();
            using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("nvidia-smi", "--query-gpu=name --format=csv,noheader") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false });
            string? first = p?.StandardOutput.ReadLine();
            p?.WaitForExit(10_000);
            return string.IsNullOrWhiteSpace(first) ? null : first.Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.ComponentModel.Win32Exception) { return null; }
    }

    /// <summary>The first line of `ffmpeg -version` (MASKWORK_FFMPEG or the PATH's), or null when it cannot run: an optional piece for the video reader.</summary>
    static string? FfmpegVersion()
    {
        try
        {
            var exe = Environment.GetEnvironmentVariable("MASKWORK_FFMPEG") is { Length: > 0 } p ? p : "ffmpeg";
            using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(exe, "-hide_banner -version") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false });
            if (process is null) return null;
            string first = process.StandardOutput.ReadLine() ?? "";
            process.StandardOutput.ReadToEnd();
            return process.WaitForExit(10_000) && process.ExitCode == 0 ? first.Trim() : null;
        }
        catch (System.ComponentModel.Win32Exception) { return null; }
    }
}
