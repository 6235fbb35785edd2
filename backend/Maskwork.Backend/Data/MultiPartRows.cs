using System.Text.Json;
using System.Text.Json.Serialization;
using Maskwork.Abstractions;

namespace Maskwork.Backend.Data;

/// <summary>
/// How a <see cref="MultiPartSample"/> is one dataset row: its dense parts' bytes one after another in <see cref="DatasetRow.Values"/>
/// (so the manifest's SHA-256 covers them all), shape and dtype those of the primary part, and <see cref="DatasetRow.Parts"/> a JSON
/// list of the parts in that order (name, shape, dtype, normalized; or name and text for a <see cref="TextSample"/>).
/// </summary>
static class MultiPartRows
{
    sealed record Part(
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("shape")] int[]? Shape = null,
        [property: JsonPropertyName("dtype")] string? DType = null,
        [property: JsonPropertyName("normalized")] bool Normalized = false,
        [property: JsonPropertyName("text")] string? Text = null);

    sealed record Layout([property: JsonPropertyName("primary")] string Primary, [property: JsonPropertyName("parts")] Part[] Parts);

    static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <summary>Fills <paramref name="row"/> from <paramref name="sample"/>; <paramref name="store"/> gives a dense part's stored bytes, dtype and normalized flag.</summary>
    public static void Encode(MultiPartSample sample, DatasetRow row, Func<Sample, (byte[] Bytes, string DType, bool Normalized)> store)
    {
        var parts = new List<Part>();
        var values = new MemoryStream();
        foreach (var (name, part) in sample.Parts)
        {
            if (part is MultiPartSample) throw new ArgumentException($"{sample.Source}: part '{name}' has parts of its own; a dataset row holds one level of parts");
            if (part is TextSample text) { parts.Add(new Part(name, Text: text.Text)); continue; }
            var (bytes, dtype, normalized) = store(part);
            values.Write(bytes);
            parts.Add(new Part(name, part.Shape, dtype, normalized));
            if (name == sample.Primary) { row.DType = dtype; row.Normalized = normalized; }
        }
        row.Values = values.ToArray();
        row.Shape = sample.Shape;
        row.Parts = JsonSerializer.Serialize(new Layout(sample.Primary, [.. parts]), Json);
    }

    /// <summary>Why <paramref name="row"/>'s parts do not fit its values, or null.</summary>
    public static string? Check(DatasetRow row)
    {
        try { return Check(Parse(row), row.Values.Length); }
        catch (Exception e) when (e is JsonException or InvalidDataException) { return $"a row whose parts cannot be read ({e.Message})"; }
    }

    static string? Check(Layout layout, long length)
    {
        long expected = 0;
        foreach (var p in layout.Parts)
        {
            if (p.Text is not null) continue;
            if (p.Shape is null || p.Shape.Length == 0 || p.DType is null || !SampleDTypes.TryParse(p.DType, out var dtype)) return $"part '{p.Name}' has no shape or a dtype this Maskwork does not know";
            expected += Bytes(p.Shape, dtype);
        }
        if (expected != length) return $"a row of {length} bytes whose parts need {expected}";
        return layout.Parts.Any(p => p.Name == layout.Primary) ? null : $"its primary part '{layout.Primary}' is not one of its parts";
    }

    /// <summary>The stored size of a dense value of <paramref name="shape"/> and <paramref name="dtype"/>: what a row's (or a part's) bytes must number.</summary>
    internal static long Bytes(int[] shape, SampleDType dtype) => shape.Aggregate(1L, (a, b) => a * b) * SampleDTypes.Size(dtype);

    static Layout Parse(DatasetRow row) =>
        JsonSerializer.Deserialize<Layout>(row.Parts!, Json) is { Primary: not null, Parts: not null } layout ? layout : throw new InvalidDataException("no primary or parts");

    /// <summary>The sample of a row <see cref="Check"/> accepted.</summary>
    public static MultiPartSample Decode(DatasetRow row)
    {
        var layout = Parse(row);
        var parts = new Dictionary<string, Sample>();
        int at = 0;
        foreach (var p in layout.Parts)
        {
            if (p.Text is not null) { parts[p.Name] = new TextSample(p.Text, row.Label, row.Source) { Split = row.Split }; continue; }
            SampleDTypes.TryParse(p.DType!, out var dtype);
            int bytes = checked((int)Bytes(p.Shape!, dtype));
            parts[p.Name] = Sample.Typed(row.Values.AsSpan(at, bytes).ToArray(), dtype, p.Shape!, row.Label, row.Source, p.Normalized) with { Split = row.Split };
            at += bytes;
        }
        return new MultiPartSample(parts, layout.Primary, row.Label, row.Source) { Split = row.Split };
    }
}
