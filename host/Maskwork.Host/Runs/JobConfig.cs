using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Maskwork.Abstractions;
using Maskwork.Host.Cli;
using Maskwork.Host.Commands;
using Maskwork.Host.Plugins;

namespace Maskwork.Host.Runs;

/// <summary>The fully resolved job: recipe defaults, then the job file, then flags and --set. Saved as config.json.</summary>
public sealed record JobConfig
{
    public string Recipe { get; init; } = "";
    public string Data { get; init; } = "";
    public long Seed { get; init; }
    public string Device { get; init; } = "cpu";
    public string Precision { get; init; } = "fp32";
    public TrainOptions Train { get; init; } = new();
    public JsonObject Model { get; init; } = [];
    public Dictionary<string, string> DataOptions { get; init; } = [];
    public Dictionary<string, string> Plugins { get; init; } = [];

    public static readonly JsonSerializerOptions Json = new(OptionsJson.Settings) { UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip };

    /// <summary>The recipe's options record with this job's values.</summary>
    public object ModelOptions(IRecipe recipe) => Bind(Model, recipe.OptionsType, "model");

    public DataSpec DataSpec(string? split = null) => Abstractions.DataSpec.Parse(Data) with { Split = split, Options = DataOptions };

    public void Save(string path)
    {
        string tmp = path + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(this, Json));
        File.Move(tmp, path, true);
    }

    public static JobConfig Load(string path)
    {
        if (!File.Exists(path)) throw new CommandException($"{path} not found: is this a run folder written by `maskwork pretrain`?");
        try { return JsonSerializer.Deserialize<JobConfig>(File.ReadAllText(path), Json) ?? throw new CommandException($"{path} is empty"); }
        catch (JsonException e) { throw new CommandException($"{path} is not a valid job: {e.Message}"); }
    }

    /// <summary>Resolves a job from recipe defaults, an optional job file, flags and --set overrides.</summary>
    public static (JobConfig Job, IRecipe Recipe) Resolve(PretrainArgs args, PluginCatalog catalog)
    {
        JsonObject file = [];
        if (args.Config is { } configPath)
        {
            if (!File.Exists(configPath)) throw new CommandException($"job file {configPath} not found");
            try { file = JsonNode.Parse(File.ReadAllText(configPath))?.AsObject() ?? []; }
            catch (JsonException e) { throw new CommandException($"job file {configPath} is not valid JSON: {e.Message}"); }
        }
        string recipeName = args.Recipe ?? (string?)file["recipe"] ?? "image/mae";
        var recipe = catalog.Registry.Recipe(recipeName) ?? throw new CommandException(
            $"recipe '{recipeName}' not found. Known recipes: {string.Join(", ", catalog.Registry.Recipes.Select(r => r.Recipe.Name).DefaultIfEmpty("none"))}. " +
            $"Plugin folders searched: {string.Join(", ", catalog.SearchedFolders)}. See `maskwork plugins`.");

        var train = OptionsJson.ToJson(recipe.Training);
        var model = OptionsJson.ToJson(recipe.DefaultOptions);
        var dataOptions = new Dictionary<string, string>();
        var top = new JsonObject { ["data"] = recipe.DefaultData, ["seed"] = 0L, ["device"] = "cpu", ["precision"] = "fp32" };

        Merge(train, file["train"] as JsonObject);
        Merge(model, file["model"] as JsonObject);
        if (file["data_options"] is JsonObject fileData) foreach (var (k, v) in fileData) dataOptions[k] = v?.ToString() ?? "";
        foreach (var key in new[] { "data", "seed", "device", "precision" }) if (file[key] is { } v) top[key] = v.DeepClone();

        if (args.Data is { } data) top["data"] = data;
        if (args.Device is { } device) top["device"] = device;
        if (args.Precision is { } precision) top["precision"] = precision;
        if (args.Seed is { } seed) top["seed"] = seed;
        if (args.Batch is { } batch) train["batch"] = batch;

        foreach (var assignment in args.Sets)
        {
            int eq = assignment.IndexOf('=');
            if (eq <= 0) throw new UsageException($"--set expects key=value, got '{assignment}'");
            string key = assignment[..eq].Trim(), raw = assignment[(eq + 1)..];
            JsonNode value = ParseValue(raw);
            if (key.StartsWith("train.", StringComparison.Ordinal)) train[key[6..]] = value;
            else if (key.StartsWith("model.", StringComparison.Ordinal)) model[key[6..]] = value;
            else if (key.StartsWith("data.", StringComparison.Ordinal)) dataOptions[key[5..]] = raw;
            else if (top.ContainsKey(key)) top[key] = value;
            else throw new UsageException($"--set {key}: keys are train.<name>, model.<name>, data.<name>, seed, device or precision");
        }

        var trainOptions = (TrainOptions)Bind(train, typeof(TrainOptions), "train");
        if (args.Steps is { } steps && steps > trainOptions.Steps) trainOptions = trainOptions with { Steps = steps };
        var modelOptions = Bind(model, recipe.OptionsType, "model");
        var merged = new Dictionary<string, string>(recipe.DataOptions(modelOptions));
        foreach (var (k, v) in dataOptions) merged[k] = v;

        var job = new JobConfig
        {
            Recipe = recipe.Name, Data = top["data"]!.ToString(), Seed = top["seed"]!.GetValue<long>(),
            Device = top["device"]!.ToString(), Precision = top["precision"]!.ToString(),
            Train = trainOptions, Model = OptionsJson.ToJson(modelOptions), DataOptions = merged,
            Plugins = catalog.Statuses.Where(p => p.Status == "loaded").ToDictionary(p => p.Id, p => p.Version),
        };
        if (job.Train.Batch <= 0 || job.Train.Steps <= 0) throw new UsageException("train.batch and train.steps must be positive");
        return (job, recipe);
    }

    static JsonNode ParseValue(string raw)
    {
        try { return JsonNode.Parse(raw) ?? JsonValue.Create(raw); }
        catch (JsonException) { return JsonValue.Create(raw); }
    }

    static void Merge(JsonObject target, JsonObject? source)
    {
        if (source is null) return;
        foreach (var (k, v) in source) target[k] = v?.DeepClone();
    }

    static object Bind(JsonObject json, Type type, string prefix)
    {
        try { return OptionsJson.FromJson(json, type); }
        catch (JsonException e)
        {
            var known = string.Join(", ", OptionsJson.ToJson(Activator.CreateInstance(type)!).Select(p => $"{prefix}.{p.Key}"));
            throw new UsageException($"bad {prefix} option: {e.Message.Split('\n')[0]} Known: {known}");
        }
    }
}
