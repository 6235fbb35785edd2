using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Maskwork.Host.Cli;

/// <summary>Human text and tables, or one JSON object on the last stdout line (then nothing else on stdout).</summary>
public sealed class Output(bool json)
{
    static readonly JsonSerializerOptions Compact = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    // Spectre.Console on stdout: colours and box lines on a terminal; no escape codes when redirected
    // (AnsiSupport.Detect), and a wide page then so tables do not wrap at 80 columns.
    static readonly Lazy<IAnsiConsole> Stdout = new(() =>
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(Console.Out), Ansi = AnsiSupport.Detect, ColorSystem = ColorSystemSupport.Detect,
        });
        if (Console.IsOutputRedirected) console.Profile.Width = 200;
        return console;
    });

    public bool Json { get; } = json;

    /// <summary>Human-readable line (suppressed in --json mode so the JSON is the only stdout).</summary>
    public void Line(string text)
    {
        if (!Json) Console.Out.WriteLine(text);
    }

    /// <summary>A table or other Spectre renderable (suppressed in --json mode).</summary>
    public void Show(IRenderable renderable)
    {
        if (!Json) Stdout.Value.Write(renderable);
    }

    /// <summary>Prints the result: JSON when asked, else the <paramref name="human"/> text.</summary>
    public void Result(object value, Func<string>? human = null)
    {
        if (Json) Console.Out.WriteLine(value is JsonNode node ? node.ToJsonString() : JsonSerializer.Serialize(value, value.GetType(), Compact));
        else if (human is not null) Console.Out.WriteLine(human());
    }

    /// <summary>A table with a bold header row, the look every listing shares.</summary>
    public static Table Table(params string[] headers)
    {
        var table = new Table { Border = TableBorder.Rounded };
        foreach (var h in headers) table.AddColumn(new TableColumn($"[bold]{Markup.Escape(h)}[/]"));
        return table;
    }

    /// <summary>Escapes text for a table cell.</summary>
    public static Markup Cell(string? text, string? style = null) =>
        new(style is null ? Markup.Escape(text ?? "") : $"[{style}]{Markup.Escape(text ?? "")}[/]");

    public static string Round(double v, int digits = 4) => Math.Round(v, digits).ToString(System.Globalization.CultureInfo.InvariantCulture);
}
