namespace Maskwork.Formats.Nifti;

/// <summary>
/// A file that is not a valid NIfTI/Analyze volume, or one this reader will not read (complex, RGB). Names the file,
/// the header field at fault and what is wrong, so a reader can skip it and say why (readers map it to their own
/// typed data error).
/// </summary>
public sealed class NiftiFormatException(string file, string field, string reason, Exception? inner = null)
    : Exception($"{file}: {field}: {reason}", inner)
{
    /// <summary>The offending file.</summary>
    public string File { get; } = file;

    /// <summary>The header field (or part of the file) at fault, e.g. <c>dim[0]</c>, <c>vox_offset</c>, <c>data</c>.</summary>
    public string Field { get; } = field;

    /// <summary>What is wrong with it.</summary>
    public string Reason { get; } = reason;
}
