namespace Maskwork.Plugins.Voxel.Formats;

/// <summary>A voxel file that is not valid in its format (truncated, bad header, wrong shape); names the file and the reason.</summary>
public sealed class VoxelFormatException(string file, string reason, Exception? inner = null) : Exception($"{file}: {reason}", inner)
{
    public string File { get; } = file;
    public string Reason { get; } = reason;
}
