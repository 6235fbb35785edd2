using System.Globalization;
using System.Text.Json;

namespace Maskwork.Bench;

/// <summary>One benchmark: a name, a line of help, and a run that prints one JSON line.</summary>
public interface IBenchCase
{
    string Name { get; }
    string Summary { get; }
    Task<int> RunAsync(BenchArgs args);
}

/// <summary><c>--name value</c> options of a case, with typed defaults.</summary>
public sealed class BenchArgs(string[] args)
{
    public string? Value(string name)
    {
        int i = Array.IndexOf(args, "--" + name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    public bool Flag(string name) => args.Contains("--" + name);
    public int Int(string name, int fallback) => Value(name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
    public double Double(string name, double fallback) => Value(name) is { } v ? double.Parse(v, CultureInfo.InvariantCulture) : fallback;
    public string String(string name, string fallback) => Value(name) ?? fallback;

    static readonly JsonSerializerOptions Snake = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>Prints the case's result as one JSON line.</summary>
    public static void Emit(object result) => Console.Out.WriteLine(JsonSerializer.Serialize(result, result.GetType(), Snake));
}
