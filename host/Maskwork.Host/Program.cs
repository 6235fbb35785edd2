using Maskwork.Host;
using Maskwork.Host.Cli;
using Maskwork.Host.Commands;
using Maskwork.Host.Plugins;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

var verbs = new Dictionary<string, VerbSpec>
{
    ["plugins"] = new("plugins [--json] [--plugins DIR]...", "discovered plugins: id, version, status, reason, recipes", [], ["json"], ["plugins"], []),
    ["recipes"] = new("recipes [--json] [--plugins DIR]...", "recipes with their defaults", [], ["json"], ["plugins"], []),
    ["doctor"] = new("doctor [--json]", "backend, device, native libraries, plugins", [], ["json"], ["plugins"], []),
    ["pretrain"] = new("pretrain [--recipe R] [--data SPEC] [--config job.json] [--steps N] [--batch B] [--device cpu|cuda|auto] [--precision fp32|bf16] [--seed S] [--out DIR] [--set k=v]... [--json]",
        "pretrain an encoder; writes a run folder", ["recipe", "data", "config", "steps", "batch", "device", "precision", "seed", "out"], ["json"], ["set", "plugins"], []),
    ["resume"] = new("resume --run DIR [--steps N] [--json]", "continue a run from its last checkpoint", ["run", "steps"], ["json"], ["plugins"], ["run"]),
    ["probe"] = new("probe --run DIR [--data SPEC] [--method linear|knn] [--random-init] [--set probe.batchnorm=true|false] [--json]", "classify frozen features", ["run", "data", "method"], ["json", "random-init"], ["set", "plugins"], ["run"]),
    ["finetune"] = new(FinetuneCommand.Usage, "fine-tune a run's encoder with a classification head; writes <run>/finetune-<name>/", ["run", "data", "epochs", "name", "resume"], ["json", "from-scratch"], ["set", "plugins"], []),
    ["embed"] = new("embed --run DIR --data SPEC --out FILE.parquet [--json]", "write encoder features to Parquet", ["run", "data", "out"], ["json"], ["plugins"], ["run", "data", "out"]),
    ["reconstruct"] = new("reconstruct --run DIR [--data SPEC] --out FILE.png [--count K] [--json]", "picture of inputs, masks, reconstructions", ["run", "data", "out", "count"], ["json"], ["plugins"], ["run", "out"]),
    ["ingest"] = new("ingest --reader NAME --in PATH --out DIR [--set data.k=v]... [--json]", "raw files → Parquet dataset", ["reader", "in", "out"], ["json"], ["set", "plugins"], ["reader", "in", "out"]),
    ["inspect"] = new("inspect --data SPEC [--limit N] [--set data.k=v]... [--json]", "what a reader sees: counts, shapes, skipped files", ["data", "limit"], ["json"], ["set", "plugins"], ["data"]),
};

CommandLine cl;
try { cl = CommandLine.Parse(args, verbs); }
catch (UsageException e)
{
    if (e.Message.Length > 0) Console.Error.WriteLine($"maskwork: {e.Message}");
    Console.Error.WriteLine("usage: maskwork <command> [options]\n");
    foreach (var (name, spec) in verbs) Console.Error.WriteLine($"  {spec.Usage}\n      {spec.Summary}");
    return e.Message.Length > 0 ? 2 : 0;
}

var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
{
    Args = [], ContentRootPath = AppContext.BaseDirectory, DisableDefaults = false,
});
builder.Configuration.AddEnvironmentVariables("MASKWORK_");
builder.Logging.ClearProviders();
builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.IncludeScopes = false; });
builder.Logging.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
builder.Services.AddOptions<MaskworkOptions>().Bind(builder.Configuration.GetSection("Maskwork")).ValidateDataAnnotations().ValidateOnStart();
builder.Services.AddSingleton<PluginCatalog>();
builder.Services.AddSingleton<Workspace>();
builder.Services.AddSingleton<TrainCommand>();
builder.Services.AddSingleton<EvaluateCommands>();
builder.Services.AddSingleton<DataCommands>();
builder.Services.AddSingleton<InfoCommands>();
using var host = builder.Build();

var output = new Output(cl.Flag("json"));
using var cts = new CancellationTokenSource();
try
{
    host.Services.GetRequiredService<IOptions<MaskworkOptions>>().Value.ToString();
    host.Services.GetRequiredService<PluginCatalog>().AddFolders(cl.Values("plugins"));
    var s = host.Services;
    return cl.Verb switch
    {
        "plugins" => s.GetRequiredService<InfoCommands>().Plugins(output),
        "recipes" => s.GetRequiredService<InfoCommands>().Recipes(output),
        "doctor" => s.GetRequiredService<InfoCommands>().Doctor(output),
        "pretrain" => await s.GetRequiredService<TrainCommand>().PretrainAsync(cl, output, cts.Token),
        "resume" => await s.GetRequiredService<TrainCommand>().ResumeAsync(cl, output, cts.Token),
        "probe" => await s.GetRequiredService<EvaluateCommands>().ProbeAsync(cl, output, cts.Token),
        "finetune" => await new FinetuneCommand(s.GetRequiredService<Workspace>()).RunAsync(new FinetuneRequest { Run = cl.Value("run"), Data = cl.Value("data"), Epochs = cl.Int("epochs"), FromScratch = cl.Flag("from-scratch"), Name = cl.Value("name"), Resume = cl.Value("resume"), Set = cl.Values("set") }, output, cts.Token),
        "embed" => await s.GetRequiredService<EvaluateCommands>().EmbedAsync(cl, output, cts.Token),
        "reconstruct" => await s.GetRequiredService<EvaluateCommands>().ReconstructAsync(cl, output, cts.Token),
        "ingest" => await s.GetRequiredService<DataCommands>().IngestAsync(cl, output, cts.Token),
        "inspect" => await s.GetRequiredService<DataCommands>().InspectAsync(cl, output, cts.Token),
        _ => throw new UsageException($"unknown command '{cl.Verb}'"),
    };
}
catch (UsageException e)
{
    Console.Error.WriteLine($"maskwork {cl.Verb}: {e.Message}\nusage: maskwork {verbs[cl.Verb].Usage}");
    return 2;
}
catch (CommandException e)
{
    Console.Error.WriteLine($"maskwork {cl.Verb}: {e.Message}");
    return 1;
}
catch (OptionsValidationException e)
{
    Console.Error.WriteLine($"maskwork: invalid settings: {string.Join("; ", e.Failures)}");
    return 1;
}
catch (OperationCanceledException)
{
    Console.Error.WriteLine($"maskwork {cl.Verb}: interrupted");
    return 130;
}
