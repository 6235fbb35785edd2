using System.Text.Json.Nodes;
using Maskwork.Abstractions;
using Maskwork.Backend.Devices;
using Maskwork.Host.Cli;
using static TorchSharp.torch;

namespace Maskwork.Host.Commands;

/// <summary><c>plugins</c>, <c>recipes</c> and <c>doctor</c>.</summary>
public sealed class InfoCommands(Workspace workspace)
{
    public int Plugins(Output output)
    {
        var list = workspace.Catalog.Statuses.Select(p => new { id = p.Id, version = p.Version, status = p.Status, reason = p.Reason, path = p.Path, recipes = p.Recipes }).ToList();
        output.Result(list, () => list.Count == 0
            ? $"no plugins found in {string.Join(", ", workspace.Catalog.SearchedFolders)}"
            : string.Join('\n', list.Select(p => $"{p.id,-16} {p.version,-10} {p.status,-12} {(p.reason ?? string.Join(", ", p.recipes))}  [{p.path}]")));
        return 0;
    }

    public int Recipes(Output output)
    {
        var list = workspace.Catalog.Registry.Recipes.Select(r =>
        {
            var model = OptionsJson.ToJson(r.Recipe.DefaultOptions);
            return new JsonObject
            {
                ["name"] = r.Recipe.Name, ["plugin"] = r.Owner, ["description"] = r.Recipe.Description, ["data"] = r.Recipe.DefaultData,
                ["train"] = OptionsJson.ToJson(r.Recipe.Training), ["model"] = model,
            };
        }).ToList();
        output.Result(new JsonArray(list.ToArray<JsonNode?>()), () => string.Join("\n\n", list.Select(r =>
            $"{r["name"]}  ({r["plugin"]}) — {r["description"]}\n  data: {r["data"]}\n  train: {Flat(r["train"]!.AsObject())}\n  model: {Flat(r["model"]!.AsObject())}")));
        return 0;
    }

    static string Flat(JsonObject o) => string.Join(", ", o.Select(kv => $"{kv.Key}={kv.Value?.ToJsonString()}"));

    public int Doctor(Output output)
    {
        bool nativeOk = TorchRuntime.TryLoad(out var detail);
        string device = "none", bf16 = "unknown";
        int threads = 0;
        if (nativeOk)
        {
            device = cuda.is_available() ? $"cuda ({cuda.device_count()} devices), cpu" : "cpu";
            threads = workspace.Options.Threads > 0 ? workspace.Options.Threads : Environment.ProcessorCount;
            try
            {
                using var a = ones(8, 8, dtype: ScalarType.BFloat16);
                using var b = a.matmul(a);
                bf16 = "ok";
            }
            catch (Exception e) { bf16 = "failed: " + e.Message.Split('\n')[0]; }
        }
        var plugins = workspace.Catalog.Statuses;
        bool pluginsOk = plugins.Count > 0 && plugins.All(p => p.Status is "loaded" or "superseded");
        string fashion = Directory.Exists("/usr/share/datasets/fashion-mnist") ? "/usr/share/datasets/fashion-mnist"
            : "missing (apt-get install dataset-fashion-mnist)";
        var result = new
        {
            backend = $"TorchSharp {typeof(TorchSharp.torch).Assembly.GetName().Version?.ToString(3)}",
            device, native_ok = nativeOk, native_detail = detail, plugins_ok = pluginsOk, threads, bf16,
            plugins = plugins.Select(p => new { id = p.Id, version = p.Version, status = p.Status, reason = p.Reason }).ToList(),
            fashion_mnist = fashion, plugin_folders = workspace.Catalog.SearchedFolders,
        };
        output.Result(result, () => string.Join('\n',
            $"backend:   {result.backend}",
            $"native:    {(nativeOk ? "ok" : "FAILED")} — {detail}",
            $"device:    {device}; threads {threads}; bf16 {bf16}",
            $"plugins:   {(pluginsOk ? "ok" : "PROBLEMS")} — {string.Join(", ", plugins.Select(p => $"{p.Id} {p.Version} {p.Status}{(p.Reason is null ? "" : $" ({p.Reason})")}"))}",
            $"folders:   {string.Join(", ", workspace.Catalog.SearchedFolders)}",
            $"fashion-mnist: {fashion}"));
        return nativeOk ? 0 : 1;
    }
}
