namespace Maskwork.Formats.Geometry;

/// <summary>
/// A file that is not valid in its format: truncated, a malformed header, an index out of range. Names the file
/// and what is wrong, so a reader can skip it and say why (readers map it to their own typed data error).
/// </summary>
public sealed class GeometryFormatException(string file, string reason, Exception? inner = null)
    : Exception($"{file}: {reason}", inner)
{
    /// <summary>The offending file.</summary>
    public string File { get; } = file;

    /// <summary>What is wrong with it.</summary>
    public string Reason { get; } = reason;
}
