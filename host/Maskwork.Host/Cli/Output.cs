using System.Text.Json;
using System.Text.Json.Nodes;

namespace Maskwork.Host.Cli;

/// <summary>Human text or one JSON object on the last stdout line.</summary>
public sealed class Output(bool json)
{
    static readonly JsonSerializerOptions Compact = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public bool Json { get; } = json;

    /// <summary>Human-readable line (suppressed in --json mode so the JSON is the only stdout).</summary>
    public void Line(string text)
    {
        if (!Json) Console.Out.WriteLine(text);
    }

    /// <summary>Prints the result: JSON when asked, else the <paramref name="human"/> text.</summary>
    public void Result(object value, Func<string>? human = null)
    {
        if (Json) Console.Out.WriteLine(value is JsonNode node ? node.ToJsonString() : JsonSerializer.Serialize(value, value.GetType(), Compact));
        else if (human is not null) Console.Out.WriteLine(human());
    }

    public static string Round(double v, int digits = 4) => Math.Round(v, digits).ToString(System.Globalization.CultureInfo.InvariantCulture);
}
