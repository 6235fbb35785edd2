using System.IO.Compression;
using System.Runtime.CompilerServices;
using Maskwork.Abstractions;

namespace Maskwork.Plugins.Image.Readers;

/// <summary>
/// MNIST-family IDX files (<c>{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]</c>), looked up in the
/// spec's path, then <c>$MASKWORK_DATA/&lt;name&gt;</c>, then <c>/usr/share/datasets/&lt;name&gt;</c>.
/// </summary>
public sealed class IdxReader(string name, string folderName) : IDatasetReader
{
    public string Name { get; } = name;
    public string Description => $"{Name} IDX files (gzipped or not); split train|test";

    public IReadOnlyList<string> SearchFolders(DataSpec spec)
    {
        var list = new List<string>();
        if (spec.Path.Length > 0) list.Add(spec.Path);
        if (Environment.GetEnvironmentVariable("MASKWORK_DATA") is { Length: > 0 } root) list.Add(Path.Combine(root, folderName));
        list.Add(Path.Combine("/usr/share/datasets", folderName));
        return list;
    }

    public async IAsyncEnumerable<Sample> ReadAsync(DataSpec spec, IDataIssues issues, [EnumeratorCancellation] CancellationToken ct)
    {
        var folders = SearchFolders(spec);
        string folder = folders.FirstOrDefault(f => Find(f, "train-images-idx3-ubyte") is not null || Find(f, "t10k-images-idx3-ubyte") is not null)
            ?? throw new DirectoryNotFoundException(
                $"{Name}: no IDX files found in {string.Join(", ", folders)}. " +
                (Name == "fashion-mnist" ? "Install them with `apt-get install dataset-fashion-mnist`, " : "") +
                $"set MASKWORK_DATA, or pass --data {Name}:<folder>.");
        var target = ImageFit.Target.From(spec, 28, 1);
        foreach (var (prefix, split) in new[] { ("train", "train"), ("t10k", "test") })
        {
            if (spec.Split is not null && spec.Split != split) continue;
            string? imagesPath = Find(folder, $"{prefix}-images-idx3-ubyte"), labelsPath = Find(folder, $"{prefix}-labels-idx1-ubyte");
            if (imagesPath is null || labelsPath is null)
            {
                if (spec.Split is not null) throw new FileNotFoundException($"{Name}: {prefix}-images/labels files missing in {folder}");
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
            var (count, rows, cols, error) = Check(images, labels);
            if (error is not null) { issues.Skip(error.Value.File == 0 ? imagesPath : labelsPath, error.Value.Reason); continue; }
            int size = rows * cols;
            for (int i = 0; i < count; i++)
            {
                ct.ThrowIfCancellationRequested();
                var pixels = images.AsSpan(16 + i * size, size).ToArray();
                float[] values = ImageFit.Fit(pixels, cols, rows, 1, target);
                yield return new Sample(values, [target.Channels, target.Size, target.Size], labels[8 + i], $"{imagesPath}#{i}") { Split = split };
            }
        }
    }

    static (int Count, int Rows, int Cols, (int File, string Reason)? Error) Check(byte[] images, byte[] labels)
    {
        static int Be(byte[] b, int o) => b[o] << 24 | b[o + 1] << 16 | b[o + 2] << 8 | b[o + 3];
        if (images.Length < 16 || Be(images, 0) != 0x803) return (0, 0, 0, (0, "not an IDX image file (magic 0x00000803 expected)"));
        if (labels.Length < 8 || Be(labels, 0) != 0x801) return (0, 0, 0, (1, "not an IDX label file (magic 0x00000801 expected)"));
        int count = Be(images, 4), rows = Be(images, 8), cols = Be(images, 12);
        if (count < 0 || rows <= 0 || cols <= 0 || 16L + (long)count * rows * cols != images.Length)
            return (0, 0, 0, (0, $"header says {count} images of {rows}x{cols} but the file has {images.Length} bytes (truncated?)"));
        if (Be(labels, 4) != count || labels.Length != 8 + count)
            return (0, 0, 0, (1, $"{Be(labels, 4)} labels in {labels.Length} bytes do not match {count} images"));
        return (count, rows, cols, null);
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
