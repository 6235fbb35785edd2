namespace Maskwork.Host.Cli;

/// <summary>A usage error: exit code 2 with the message and a hint.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>A failure the user can act on: exit code 1 with a one-line reason.</summary>
public sealed class CommandException(string message) : Exception(message);

/// <summary>
/// <c>maskwork &lt;verb&gt; [--name value]... [--flag]...</c>. Options are declared per verb so a typo
/// is a usage error, not a silently ignored setting.
/// </summary>
public sealed class CommandLine
{
    readonly Dictionary<string, List<string>> values = new(StringComparer.Ordinal);
    readonly HashSet<string> flags = new(StringComparer.Ordinal);

    public string Verb { get; private init; } = "";

    public static CommandLine Parse(string[] args, IReadOnlyDictionary<string, VerbSpec> verbs)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help") throw new UsageException("");
        string verb = args[0];
        if (!verbs.TryGetValue(verb, out var spec)) throw new UsageException($"unknown command '{verb}'");
        var cl = new CommandLine { Verb = verb };
        for (int i = 1; i < args.Length; i++)
        {
            string a = args[i];
            if (!a.StartsWith("--", StringComparison.Ordinal)) throw new UsageException($"unexpected argument '{a}' for '{verb}'");
            string name = a[2..];
            string? inline = null;
            int eq = name.IndexOf('=');
            if (eq > 0) { inline = name[(eq + 1)..]; name = name[..eq]; }
            if (name is "help" or "h") throw new UsageException("");
            if (spec.Flags.Contains(name)) { cl.flags.Add(name); continue; }
            if (!spec.Valued.Contains(name) && !spec.Repeatable.Contains(name)) throw new UsageException($"unknown option --{name} for '{verb}'");
            string value = inline ?? (i + 1 < args.Length ? args[++i] : throw new UsageException($"--{name} needs a value"));
            if (!cl.values.TryGetValue(name, out var list)) cl.values[name] = list = [];
            if (list.Count > 0 && !spec.Repeatable.Contains(name)) throw new UsageException($"--{name} given twice");
            list.Add(value);
        }
        foreach (var required in spec.Required)
            if (!cl.values.ContainsKey(required)) throw new UsageException($"'{verb}' needs --{required}");
        return cl;
    }

    public bool Flag(string name) => flags.Contains(name);
    public string? Value(string name) => values.TryGetValue(name, out var v) ? v[0] : null;
    public IReadOnlyList<string> Values(string name) => values.TryGetValue(name, out var v) ? v : [];

    public int? Int(string name)
    {
        var v = Value(name);
        if (v is null) return null;
        return int.TryParse(v, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int n) && n >= 0
            ? n : throw new UsageException($"--{name} must be a non-negative integer, got '{v}'");
    }
}

/// <summary>The options one verb accepts.</summary>
public sealed record VerbSpec(string Usage, string Summary, string[] Valued, string[] Flags, string[] Repeatable, string[] Required);
