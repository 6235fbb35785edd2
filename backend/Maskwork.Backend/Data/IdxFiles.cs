using System.IO.Compression;
using System.Runtime.CompilerServices;
using Maskwork.Abstractions;

namespace Maskwork.Backend.Data;

/// <summary>One validated split of an MNIST-family IDX pair: raw pixel bytes and labels.</summary>
public sealed record IdxSplit(string Split, string ImagesPath, byte[] Images, byte[] Labels, int Count, int Rows, int Cols)
{
    /// <summary>The pixels of image <paramref name="index"/>, row-major bytes.</summary>
    public ReadOnlySpan<byte> Image(int index) => Images.AsSpan(16 + index * Rows * Cols, Rows * Cols);

    /// <summary>The label of image <paramref name="index"/>.</summary>
    public int Label(int index) => Labels[8 + index];
}

/// <summary>
/// MNIST-family IDX files (<c>{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]</c>): where to look and how
/// to read and validate them. Shared by every reader that turns these datasets into samples of its modality.
/// </summary>
public static class IdxFiles
{
    /// <summary>The spec's path, then <c>$MASKWORK_DATA/&lt;folder&gt;</c>, then <c>/usr/share/datasets/&lt;folder&gt;</c>.</summary>
    public static IReadOnlyList<string> SearchFolders(string explicitPath, string folderName)
    {
        var list = new List<string>();
        if (explicitPath.Length > 0) list.Add(explicitPath);
        if (Environment.GetEnvironmentVariable("MASKWORK_DATA") is { Length: > 0 } root) list.Add(Path.Combine(root, folderName));
        list.Add(Path.Combine("/usr/share/datasets", folderName));
        return list;
    }

    /// <summary>The first folder holding a train or test image file, or null.</summary>
    public static string? Locate(IEnumerable<string> folders) =>
        folders.FirstOrDefault(f => Find(f, "train-images-idx3-ubyte") is not null || Find(f, "t10k-images-idx3-ubyte") is not null);

    /// <summary>
    /// Reads the train and/or test split of <paramref name="folder"/>. A corrupt file is reported to
    /// <paramref name="issues"/> (naming it) and its split skipped; a requested split whose files are missing
    /// throws when <paramref name="requireSplit"/>.
    /// </summary>
    public static async IAsyncEnumerable<IdxSplit> ReadAsync(string folder, string? split, IDataIssues issues, bool requireSplit,
        [EnumeratorCancellation] CancellationToken ct)
    {
        foreach (var (prefix, name) in new[] { ("train", "train"), ("t10k", "test") })
        {
            if (split is not null && split != name) continue;
            string? imagesPath = Find(folder, $"{prefix}-images-idx3-ubyte"), labelsPath = Find(folder, $"{prefix}-labels-idx1-ubyte");
            if (imagesPath is null || labelsPath is null)
            {
                if (split is not null && requireSplit) throw new FileNotFoundException($"{prefix}-images/labels files missing in {folder}");
                continue;
            }
            byte[] images, labels;
            try
            {
                images = await ReadAllAsync(imagesPath, ct);
                labels = await ReadAllAsync(labelsPath, ct);
            }
            catch (InvalidDataException e)
            {
                issues.Skip(imagesPath, $"cannot decompress: {e.Message}");
                continue;
            }
            if (Validate(images, labels) is { } error) { issues.Skip(error.File == 0 ? imagesPath : labelsPath, error.Reason); continue; }
            yield return new IdxSplit(name, imagesPath, images, labels, Be(images, 4), Be(images, 8), Be(images, 12));
        }
    }

    static int Be(byte[] b, int o) => b[o] << 24 | b[o + 1] << 16 | b[o + 2] << 8 | b[o + 3];

    static (int File, string Reason)? Validate(byte[] images, byte[] labels)
    {
        if (images.Length < 16 || Be(images, 0) != 0x803) return (0, "not an IDX image file (magic 0x00000803 expected)");
        if (labels.Length < 8 || Be(labels, 0) != 0x801) return (1, "not an IDX label file (magic 0x00000801 expected)");
        int count = Be(images, 4), rows = Be(images, 8), cols = Be(images, 12);
        if (count < 0 || rows <= 0 || cols <= 0 || 16L + (long)count * rows * cols != images.Length)
            return (0, $"header says {count} images of {rows}x{cols} but the file has {images.Length} bytes (truncated?)");
        if (Be(labels, 4) != count || labels.Length != 8 + count)
            return (1, $"{Be(labels, 4)} labels in {labels.Length} bytes do not match {count} images");
        return null;
    }

    static string? Find(string folder, string stem) =>
        new[] { stem, stem + ".gz" }.Select(f => Path.Combine(folder, f)).FirstOrDefault(File.Exists);

    static async Task<byte[]> ReadAllAsync(string path, CancellationToken ct)
    {
        if (!path.EndsWith(".gz", StringComparison.Ordinal)) return await File.ReadAllBytesAsync(path, ct);
        await using var fs = File.OpenRead(path);
        await using var gz = new GZipStream(fs, CompressionMode.Decompress);
        using var ms = new MemoryStream();
        await gz.CopyToAsync(ms, ct);
        return ms.ToArray();
    }
}
