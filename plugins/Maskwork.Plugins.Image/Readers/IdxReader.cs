using System.Runtime.CompilerServices;
using Maskwork.Abstractions;
using Maskwork.Backend.Data;

namespace Maskwork.Plugins.Image.Readers;

/// <summary>
/// MNIST-family IDX files (<c>{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]</c>), looked up in the
/// spec's path, then <c>$MASKWORK_DATA/&lt;name&gt;</c>, then <c>/usr/share/datasets/&lt;name&gt;</c>.
/// </summary>
public sealed class IdxReader(string name, string folderName) : IDatasetReader
{
    public string Name { get; } = name;
    public string Description => $"{Name} IDX files (gzipped or not); split train|test";

    public async IAsyncEnumerable<Sample> ReadAsync(DataSpec spec, IDataIssues issues, [EnumeratorCancellation] CancellationToken ct)
    {
        var folders = IdxFiles.SearchFolders(spec.Path, folderName);
        string folder = IdxFiles.Locate(folders)
            ?? throw new DirectoryNotFoundException(
                $"{Name}: no IDX files found in {string.Join(", ", folders)}. " +
                (Name == "fashion-mnist" ? "Install them with `apt-get install dataset-fashion-mnist`, " : "") +
                $"set MASKWORK_DATA, or pass --data {Name}:<folder>.");
        var target = ImageFit.Target.From(spec, 28, 1);
        await foreach (var split in IdxFiles.ReadAsync(folder, spec.Split, issues, requireSplit: true, ct))
        {
            for (int i = 0; i < split.Count; i++)
            {
                ct.ThrowIfCancellationRequested();
                float[] values = ImageFit.Fit(split.Image(i).ToArray(), split.Cols, split.Rows, 1, target);
                yield return new Sample(values, [target.Channels, target.Size, target.Size], split.Label(i), $"{split.ImagesPath}#{i}") { Split = split.Split };
            }
        }
    }
}
