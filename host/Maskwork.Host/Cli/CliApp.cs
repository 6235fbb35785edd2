using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using Maskwork.Host.Commands;
using Maskwork.Host.Plugins;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Maskwork.Host.Cli;

/// <summary>What a verb's action gets: the output (human or --json) and the host's services.</summary>
public sealed class VerbContext(IServiceProvider services, Output output)
{
    public Output Output { get; } = output;
    public T Get<T>() where T : notnull => services.GetRequiredService<T>();
}

/// <summary>A verb's action: the parse result (read its options), the context, a cancellation token; returns the exit code.</summary>
public delegate Task<int> VerbAction(ParseResult parse, VerbContext context, CancellationToken ct);

/// <summary>
/// The <c>maskwork</c> command line on System.CommandLine: help (<c>--help</c> on every verb, with each
/// option's description and default), "did you mean" for misspelled verbs and options, response files
/// (<c>@args.rsp</c>), completion through the <c>[suggest]</c> directive, and the exit codes of
/// DESIGN.md §5 (0 ok, 1 failure with a one-line reason, 2 usage error with the verb's usage, 130 interrupted).
/// Verbs are declared in Program.cs, one block each, with <see cref="Verb"/>.
/// </summary>
public sealed class CliApp
{
    readonly Option<string[]> plugins = new("--plugins")
    {
        Description = "an extra plugin folder to search (repeatable; also Maskwork:PluginFolders in appsettings.json)",
        HelpName = "DIR", Recursive = true, Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = false,
    };

    public CliApp(string description)
    {
        Root = new RootCommand(description);
        Root.Options.Add(plugins);
        Root.SetAction(parse =>
        {
            // `maskwork` alone: the overview, as `--help` prints it.
            Help(parse, Console.Out);
            return 0;
        });
    }

    public RootCommand Root { get; }

    /// <summary>Declares a verb: <paramref name="build"/> adds its options to the builder and returns its action.</summary>
    public Command Verb(string name, string description, Func<VerbBuilder, VerbAction> build, bool json = true) => Verb(Root, name, description, build, json);

    /// <summary>A verb under a <see cref="Group"/> (<c>maskwork jobs submit</c>).</summary>
    public Command Verb(Command group, string name, string description, Func<VerbBuilder, VerbAction> build, bool json = true)
    {
        var builder = new VerbBuilder(new Command(name, description));
        var action = build(builder);
        if (json) builder.AddJson();
        builder.Command.SetAction((parse, ct) => ExecuteAsync(parse, builder, action, ct));
        group.Subcommands.Add(builder.Command);
        return builder.Command;
    }

    /// <summary>A verb that only groups others (<c>maskwork jobs</c>): alone it prints its help.</summary>
    public Command Group(string name, string description)
    {
        var group = new Command(name, description);
        group.SetAction(parse => { Help(parse, Console.Out); return 0; });
        Root.Subcommands.Add(group);
        return group;
    }

    /// <summary>Parses and runs; never throws for the user's mistakes.</summary>
    public async Task<int> RunAsync(string[] args)
    {
        var parse = Root.Parse(args);
        if (parse.Errors.Count > 0 && parse.Action is ParseErrorAction errorAction)
        {
            // Errors, "did you mean", then the verb's own usage: all on stderr (stdout is for results), exit 2.
            errorAction.ShowHelp = true;
            errorAction.ShowTypoCorrections = true;
            parse.Invoke(new InvocationConfiguration { Output = Console.Error, Error = Console.Error });
            return 2;
        }
        // Signals are handled where a checkpoint must be written first (TrainCommand), not by a forced exit here.
        return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false });
    }

    async Task<int> ExecuteAsync(ParseResult parse, VerbBuilder verb, VerbAction action, CancellationToken ct)
    {
        string name = verb.Command.Name;
        try
        {
            using var host = BuildHost();
            host.Services.GetRequiredService<IOptions<MaskworkOptions>>().Value.ToString();
            host.Services.GetRequiredService<PluginCatalog>().AddFolders(parse.GetValue(plugins) ?? []);
            var output = new Output(verb.Json is { } json && parse.GetValue(json));
            return await action(parse, new VerbContext(host.Services, output), ct);
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"maskwork {name}: {e.Message}\n");
            Help(parse, Console.Error);
            return 2;
        }
        catch (CommandException e)
        {
            Console.Error.WriteLine($"maskwork {name}: {e.Message}");
            return 1;
        }
        catch (OptionsValidationException e)
        {
            Console.Error.WriteLine($"maskwork: invalid settings: {string.Join("; ", e.Failures)}");
            return 1;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine($"maskwork {name}: interrupted");
            return 130;
        }
    }

    /// <summary>Prints the parsed command's help (usage, description, options with defaults) to <paramref name="writer"/>.</summary>
    void Help(ParseResult parse, TextWriter writer)
    {
        var path = new List<string>();
        for (var c = parse.CommandResult; c.Parent is CommandResult parent; c = parent) path.Insert(0, c.Command.Name);
        Root.Parse([.. path, "--help"]).Invoke(new InvocationConfiguration { Output = writer, Error = writer });
    }

    static IHost BuildHost()
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
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
        // Every public sealed class in Commands/ that takes its dependencies by constructor: a new verb's class needs no line here.
        foreach (var type in typeof(Workspace).Assembly.GetTypes().Where(t => t.Namespace == typeof(Workspace).Namespace && (t.Name.EndsWith("Command", StringComparison.Ordinal) || t.Name.EndsWith("Commands", StringComparison.Ordinal))))
            if (type is { IsClass: true, IsAbstract: false, IsPublic: true }) builder.Services.AddSingleton(type);
        return builder.Build();
    }
}

/// <summary>Declares one verb's options: typed, described, with defaults where there is one.</summary>
public sealed class VerbBuilder
{
    internal VerbBuilder(Command command) => Command = command;

    public Command Command { get; }
    public Option<bool>? Json { get; private set; }

    internal void AddJson()
    {
        Json = new Option<bool>("--json") { Description = "print one JSON object on the last stdout line (progress and messages stay on stderr)" };
        Command.Options.Add(Json);
    }

    /// <summary>An option with a default (shown in help); <paramref name="among"/> restricts the values.</summary>
    public Option<T> Option<T>(string name, string description, T defaultValue, string? helpName = null, params string[] among)
    {
        var option = new Option<T>(name) { Description = description, DefaultValueFactory = _ => defaultValue, HelpName = helpName };
        if (among.Length > 0) option.AcceptOnlyFromAmong(among);
        Command.Options.Add(option);
        return option;
    }

    /// <summary>An option whose absence means "decided elsewhere" (the job file, the recipe, the run): say which in the description.</summary>
    public Option<T?> Optional<T>(string name, string description, string? helpName = null, params string[] among)
    {
        var option = new Option<T?>(name) { Description = description, HelpName = helpName };
        if (among.Length > 0) option.AcceptOnlyFromAmong(among);
        Command.Options.Add(option);
        return option;
    }

    /// <summary>An option the verb cannot run without.</summary>
    public Option<T> Required<T>(string name, string description, string? helpName = null)
    {
        var option = new Option<T>(name) { Description = description, HelpName = helpName, Required = true };
        Command.Options.Add(option);
        return option;
    }

    /// <summary>An on/off switch.</summary>
    public Option<bool> Flag(string name, string description)
    {
        var option = new Option<bool>(name) { Description = description };
        Command.Options.Add(option);
        return option;
    }

    /// <summary>A repeatable option (<c>--set a=1 --set b=2</c>).</summary>
    public Option<string[]> Repeated(string name, string description, string? helpName = null)
    {
        var option = new Option<string[]>(name)
        {
            Description = description, HelpName = helpName, Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = false,
            DefaultValueFactory = _ => [],
        };
        Command.Options.Add(option);
        return option;
    }

    /// <summary>An optional positional argument.</summary>
    public Argument<T?> Argument<T>(string name, string description)
    {
        var argument = new Argument<T?>(name) { Description = description, Arity = ArgumentArity.ZeroOrOne };
        Command.Arguments.Add(argument);
        return argument;
    }

    /// <summary>A whole number that must be at least <paramref name="min"/> (a value that is no number is already a parse error).</summary>
    public static void AtLeast(Option<int?> option, int min) => option.Validators.Add(r =>
    {
        if (r.Tokens.Count == 1 && int.TryParse(r.Tokens[0].Value, out int v) && v < min) r.AddError($"{option.Name} must be at least {min}, got {v}");
    });

    /// <inheritdoc cref="AtLeast(Option{int?}, int)"/>
    public static void AtLeast(Option<int> option, int min) => option.Validators.Add(r =>
    {
        if (r.Tokens.Count == 1 && int.TryParse(r.Tokens[0].Value, out int v) && v < min) r.AddError($"{option.Name} must be at least {min}, got {v}");
    });
}
