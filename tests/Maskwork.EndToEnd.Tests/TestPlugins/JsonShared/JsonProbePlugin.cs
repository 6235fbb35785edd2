using System.Reflection;
using Maskwork.Abstractions;
using Newtonsoft.Json;

namespace E2E.Json;

/// <summary>
/// Uses its own Newtonsoft.Json in Register: the recipe's description is a JSON document written and read
/// back with it, naming the Newtonsoft.Json version it ran with and where each library was loaded from.
/// </summary>
public sealed class JsonProbePlugin : IModalityPlugin
{
    public PluginInfo Info { get; } = new(PluginIds.Id, "1.0.0", "private Newtonsoft.Json probe");

    public void Register(IComponentRegistry registry)
    {
        var facts = new Dictionary<string, string>
        {
            ["newtonsoft"] = typeof(JsonConvert).Assembly.GetName().Version!.ToString(),
            ["newtonsoft_file"] = typeof(JsonConvert).Assembly.GetCustomAttribute<AssemblyFileVersionAttribute>()?.Version ?? "",
            ["newtonsoft_path"] = typeof(JsonConvert).Assembly.Location,
            ["abstractions_path"] = typeof(IModalityPlugin).Assembly.Location,
            ["torchsharp_path"] = typeof(TorchSharp.torch).Assembly.Location,
        };
        string json = JsonConvert.SerializeObject(facts);
        var back = JsonConvert.DeserializeObject<Dictionary<string, string>>(json)!;
        if (back.Count != facts.Count) throw new InvalidOperationException("Newtonsoft.Json round trip failed");
        registry.AddRecipe(new InfoRecipe($"{PluginIds.Id}/info", json));
    }

    sealed class InfoRecipe(string name, string description) : IRecipe
    {
        public string Name { get; } = name;
        public string Description { get; } = description;
        public string DefaultData => "none";
        public IReadOnlyDictionary<string, string> DataOptions(object options) => new Dictionary<string, string>();
        public TrainOptions Training { get; } = new();
        public Type OptionsType => typeof(InfoOptions);
        public object DefaultOptions { get; } = new InfoOptions();
        public ModelParts Build(object options, BuildContext context) => throw new NotSupportedException("an information-only recipe");
    }

    public sealed record InfoOptions
    {
        public int Unused { get; init; }
    }
}
