using System.Globalization;
using System.Runtime.CompilerServices;
using Maskwork.Abstractions;
using Maskwork.Formats.Nifti;
using Maskwork.Plugins.Volume.Preprocessing;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Volume.Readers;

/// <summary>
/// A volume sample: values [C, Z, Y, X] (x fastest) after preprocessing, its voxel → world affine, and, when the
/// reader was given <c>data.labels</c>, the label map on the same grid ([Z, Y, X], label codes as floats).
/// </summary>
public sealed record VolumeSample : Sample
{
    public VolumeSample(float[] values, int[] shape, string source) : base(values, shape, null, source) { }

    /// <summary>The 4×4 row-major voxel (i, j, k) → world (mm) affine of the sample's grid.</summary>
    public double[] Affine { get; init; } = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];

    /// <summary>The label map on the same grid, [Z, Y, X]; null without <c>data.labels</c>.</summary>
    public float[]? LabelMap { get; init; }

    /// <summary>The label file paired with this image.</summary>
    public string? LabelSource { get; init; }
}

/// <summary>What <c>inspect</c> reports per file: shape x first, dtype as stored, spacing, orientation, intensity range after scaling.</summary>
public sealed record VolumeFileSummary(string File, string Shape, string DType, double[] Spacing, string Units, string Orientation, double Min, double Max, int Volumes);

/// <summary>
/// <c>nifti</c>: NIfTI-1/2 volumes (<c>.nii</c>, <c>.nii.gz</c>, <c>.hdr/.img</c> pairs; Analyze with
/// <c>data.allow_analyze=true</c>) from a file or a folder searched recursively. Each 3-D volume of a 4-D file is one
/// sample (<c>data.volumes=time</c>), or all of them are the channels of one (<c>data.volumes=channels</c>). Samples are
/// [C, Z, Y, X] float32 after <see cref="VolumePreprocess"/> (reorient, spacing, intensity, foreground crop).
/// <c>data.labels=PATH</c> pairs each image with a label volume (one file for all, or a folder matched by file name)
/// whose grid must equal the image's (sizes and affine). Bad files are named with the field at fault and skipped.
/// </summary>
public sealed class NiftiReader : IDatasetReader, IDescribesFiles
{
    public string Name => "nifti";
    public string Description => "NIfTI-1/2 volumes (.nii, .nii.gz, .hdr/.img): file or folder; data.spacing, data.intensity=none|ct|mr, data.window, data.foreground, data.labels, data.volumes=time|channels, data.allow_analyze";

    public static readonly string[] Keys = [.. VolumePreprocess.Keys, "labels", "volumes", "allow_analyze", "label_tolerance"];

    /// <summary>The NIfTI files under a path (a file is itself), sorted; <c>.img</c> files are reached through their <c>.hdr</c>.</summary>
    public static List<string> FilesOf(string path)
    {
        if (File.Exists(path)) return [path];
        if (!Directory.Exists(path)) throw new FileNotFoundException($"'{path}' is neither a NIfTI file nor a folder (use --data nifti:<file-or-folder>)" +
            (path.StartsWith("/usr/share/mricron/", StringComparison.Ordinal) ? "; the default brain comes with `apt-get install mricron-data`" : ""));
        var files = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Where(NiftiFile.IsHeaderName).Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new FileNotFoundException($"no NIfTI files (.nii, .nii.gz, .hdr) under '{path}'");
        return files;
    }

    public static NiftiReadOptions ReadOptions(DataSpec spec) => new(AllowAnalyze: bool.TryParse(spec.Option("allow_analyze", "false"), out bool a) ? a
        : throw new ArgumentException($"data.allow_analyze must be true or false, got '{spec.Option("allow_analyze", "")}'"));

    /// <summary>Reads a file; a format error becomes the <see cref="InvalidDataFileException"/> readers raise, naming the file and field.</summary>
    public static NiftiImage Load(string file, NiftiReadOptions options)
    {
        try { return NiftiFile.Read(file, options); }
        catch (NiftiFormatException e) { throw new InvalidDataFileException(e.File, $"{e.Field}: {e.Reason}", e); }
        catch (Exception e) when (e is IOException or InvalidDataException or OutOfMemoryException)
        {
            throw new InvalidDataFileException(file, $"cannot read: {e.Message}", e);
        }
    }

    /// <summary>The per-file summary <c>inspect</c> shows (intensity range after scl_slope/inter, before preprocessing).</summary>
    public static VolumeFileSummary Summarize(string file, NiftiImage image)
    {
        var h = image.Header;
        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        foreach (float v in image.Data) { if (v < min) min = v; if (v > max) max = v; }
        return new VolumeFileSummary(file, string.Join('x', h.Shape), h.DTypeName, h.Spacing, h.SpatialUnits, h.Orientation, min, max, (int)h.VolumeCount);
    }

    /// <summary>The per-file summaries of a data spec, bad files reported to <paramref name="issues"/> (what <c>inspect --json</c> lists as <c>files</c>).</summary>
    public static List<VolumeFileSummary> Summaries(DataSpec spec, IDataIssues issues)
    {
        var options = ReadOptions(spec);
        var list = new List<VolumeFileSummary>();
        foreach (var file in FilesOf(spec.Path))
        {
            try { list.Add(Summarize(file, Load(file, options))); }
            catch (InvalidDataFileException e) { issues.Skip(e.File, e.Reason); }
        }
        return list;
    }

    public IEnumerable<FileFacts> DescribeFiles(DataSpec spec, IDataIssues issues) => Summaries(spec, issues).Select(v => new FileFacts(v.File,
    [
        new("shape", v.Shape), new("dtype", v.DType), new("spacing", v.Spacing), new("units", v.Units), new("orientation", v.Orientation),
        new("min", v.Min), new("max", v.Max), new("volumes", v.Volumes),
    ]));

    public async IAsyncEnumerable<Sample> ReadAsync(DataSpec spec, IDataIssues issues, [EnumeratorCancellation] CancellationToken ct)
    {
        var options = ReadOptions(spec);
        var preprocess = VolumePreprocess.From(spec);
        string volumes = spec.Option("volumes", "time");
        if (volumes is not ("time" or "channels")) throw new ArgumentException($"data.volumes must be 'time' (each 3-D volume a sample) or 'channels', got '{volumes}'");
        double tolerance = double.Parse(spec.Option("label_tolerance", "1e-3"), CultureInfo.InvariantCulture);
        string? labels = spec.Options.TryGetValue("labels", out var l) && l.Length > 0 ? l : null;
        if (labels is not null && !File.Exists(labels) && !Directory.Exists(labels))
            throw new FileNotFoundException($"data.labels: '{labels}' is neither a label volume nor a folder of them");
        string? labelFolderFull = labels is not null && Directory.Exists(labels) ? Path.GetFullPath(labels) : null;
        foreach (var file in FilesOf(spec.Path))
        {
            ct.ThrowIfCancellationRequested();
            // A label folder inside the image folder holds labels, not images.
            if (labelFolderFull is not null && Path.GetFullPath(file).StartsWith(labelFolderFull + Path.DirectorySeparatorChar, StringComparison.Ordinal)) continue;
            List<VolumeSample> made;
            try { made = await Task.Run(() => Decode(file, options, preprocess, volumes, labels, tolerance), ct); }
            catch (InvalidDataFileException e) { issues.Skip(e.File, e.Reason); continue; }
            foreach (var s in made) yield return s;
        }
    }

    /// <summary>Reads, checks and preprocesses one file into its samples.</summary>
    public static List<VolumeSample> Decode(string file, NiftiReadOptions options, VolumePreprocess preprocess, string volumes, string? labels, double tolerance)
    {
        var image = Load(file, options);
        var h = image.Header;
        NiftiImage? labelImage = null;
        string? labelFile = null;
        if (labels is not null)
        {
            labelFile = File.Exists(labels) ? labels : MatchLabel(labels, file)
                ?? throw new InvalidDataFileException(file, $"data.labels: no label volume named like {Path.GetFileName(file)} in '{labels}'");
            labelImage = Load(labelFile, options);
            CheckGrid(file, h, labelFile, labelImage.Header, tolerance);
        }
        long n = h.VolumeVoxels;
        int count = (int)h.VolumeCount;
        int[] zyx = [(int)h.Dim(2), (int)h.Dim(1), (int)h.Dim(0)];
        var result = new List<VolumeSample>();
        using var scope = NewDisposeScope();
        GridVolume? labelGrid = labelImage is null ? null : new GridVolume(tensor(labelImage.Volume(0).ToArray(), [1, zyx[0], zyx[1], zyx[2]]), h.Affine);
        var groups = volumes == "channels" || count == 1 ? [Enumerable.Range(0, count).ToArray()] : Enumerable.Range(0, count).Select(t => new[] { t }).ToList();
        foreach (var channels in groups)
        {
            var data = tensor(image.Data, [count, zyx[0], zyx[1], zyx[2]]);
            if (channels.Length < count) data = data.narrow(0, channels[0], 1);
            var (vol, lab) = preprocess.Apply(new GridVolume(data, h.Affine), labelGrid);
            var values = vol.Data.contiguous().data<float>().ToArray();
            if (values.Any(v => !float.IsFinite(v))) throw new InvalidDataFileException(file, "data: non-finite voxel values after scaling");
            var shape = vol.Data.shape.Select(s => (int)s).ToArray();
            string source = count == 1 || channels.Length == count ? file : $"{file}#{channels[0]}";
            result.Add(new VolumeSample(values, shape, source)
            {
                Affine = vol.Affine,
                LabelMap = lab?.Data.contiguous().data<float>().ToArray(),
                LabelSource = labelFile,
            });
        }
        return result;
    }

    /// <summary>The label volume in <paramref name="folder"/> with the image's file name (or the same stem under another NIfTI extension).</summary>
    static string? MatchLabel(string folder, string imageFile)
    {
        string name = Path.GetFileName(imageFile);
        string exact = Path.Combine(folder, name);
        if (File.Exists(exact) && Path.GetFullPath(exact) != Path.GetFullPath(imageFile)) return exact;
        string stem = Stem(name);
        return Directory.EnumerateFiles(folder).Where(NiftiFile.IsHeaderName).Order(StringComparer.Ordinal)
            .FirstOrDefault(f => Stem(Path.GetFileName(f)) == stem && Path.GetFullPath(f) != Path.GetFullPath(imageFile));
    }

    static string Stem(string name)
    {
        foreach (var ext in new[] { ".nii.gz", ".hdr.gz", ".nii", ".hdr" })
            if (name.EndsWith(ext, StringComparison.OrdinalIgnoreCase)) return name[..^ext.Length];
        return name;
    }

    /// <summary>Refuses a label map whose grid (sizes, affine) differs from the image's.</summary>
    public static void CheckGrid(string file, NiftiHeader image, string labelFile, NiftiHeader label, double tolerance)
    {
        for (int a = 0; a < 3; a++)
            if (image.Dim(a) != label.Dim(a))
                throw new InvalidDataFileException(file, $"data.labels: {labelFile} is {string.Join('x', label.Shape)}, the image {string.Join('x', image.Shape)} (dim[{a + 1}] differs)");
        if (label.VolumeCount != 1) throw new InvalidDataFileException(file, $"data.labels: {labelFile} has {label.VolumeCount} volumes; a label map has one");
        var ia = image.Affine;
        var la = label.Affine;
        for (int i = 0; i < 12; i++)
            if (Math.Abs(ia[i] - la[i]) > tolerance * Math.Max(1, Math.Abs(ia[i])))
                throw new InvalidDataFileException(file, $"data.labels: {labelFile} has another affine (row {i / 4}, column {i % 4}: {la[i]:G6} vs {ia[i]:G6}); resample it onto the image's grid first");
    }
}
