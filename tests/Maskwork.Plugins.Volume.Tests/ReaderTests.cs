using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Formats.Nifti;
using Maskwork.Formats.Nifti.Tests;
using Maskwork.Plugins.Volume.Preprocessing;
using Maskwork.Plugins.Volume.Readers;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Volume.Tests;

/// <summary>The <c>nifti</c> reader: real files, 4-D as volumes or channels, RAS, label maps checked for their grid, bad files skipped.</summary>
public sealed class ReaderTests : IDisposable
{
    readonly string root = Directory.CreateTempSubdirectory("mw-volume-").FullName;
    public void Dispose() => Directory.Delete(root, true);
    string P(string name) => Path.Combine(root, name);

    public static string Shared(string relative)
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !Directory.Exists(Path.Combine(d.FullName, "shared", "datasets"))) d = d.Parent;
        return Path.Combine(d?.FullName ?? throw new DirectoryNotFoundException("../shared/datasets not found"), "shared", "datasets", relative);
    }

    static async Task<(List<Sample> Samples, DataIssueLog Issues)> Read(string path, params (string, string)[] options)
    {
        var issues = new DataIssueLog();
        var spec = new DataSpec("nifti", path) { Options = options.ToDictionary(o => o.Item1, o => o.Item2) };
        var list = new List<Sample>();
        await foreach (var s in new NiftiReader().ReadAsync(spec, issues, CancellationToken.None)) list.Add(s);
        return (list, issues);
    }

    [Fact]
    public async Task A_folder_reads_every_volume_of_every_file()
    {
        var (samples, issues) = await Read(Shared("medical"));
        Assert.Equal(0, issues.Count);
        // anatomical 1 + example4d 2 + example_nifti2 2 + functional 20 time points
        Assert.Equal(25, samples.Count);
        Assert.Equal(20, samples.Count(s => s.Source.Contains("functional.nii#")));
        var anat = samples.Single(s => s.Source.EndsWith("anatomical.nii"));
        Assert.Equal([1, 25, 41, 33], anat.Shape); // [C, Z, Y, X]
    }

    [Fact]
    public void Inspect_describes_each_file_with_its_stored_shape_dtype_spacing_and_orientation()
    {
        var issues = new DataIssueLog();
        var files = new NiftiReader().DescribeFiles(new DataSpec("nifti", Shared("medical")), issues).ToList();
        Assert.Equal(0, issues.Count);
        Assert.Equal(4, files.Count);
        var anat = files.Single(f => f.File.EndsWith("anatomical.nii")).Facts.ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.Equal("33x41x25", anat["shape"]); // x first, as stored (nibabel: (33, 41, 25), int16, LAS, 2 mm)
        Assert.Equal("int16", anat["dtype"]);
        Assert.Equal([2.0, 2.0, 2.0], (double[])anat["spacing"]);
        Assert.Equal("LAS", anat["orientation"]);
        var functional = files.Single(f => f.File.EndsWith("functional.nii")).Facts.ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.Equal(20, functional["volumes"]);
    }

    [Fact]
    public async Task Four_d_files_become_channels_on_request()
    {
        var (samples, _) = await Read(Shared("medical/example4d.nii.gz"), ("volumes", "channels"));
        Assert.Equal([2, 24, 96, 128], Assert.Single(samples).Shape);
    }

    [Fact]
    public async Task Reorienting_las_to_ras_flips_x_and_keeps_the_world_position_of_every_voxel()
    {
        var image = NiftiFile.Read(Shared("medical/anatomical.nii"));
        Assert.Equal("LAS", image.Header.Orientation);
        var (samples, _) = await Read(Shared("medical/anatomical.nii"), ("reorient", "true"));
        var s = (VolumeSample)samples[0];
        Assert.Equal("RAS", Orientations.Code(s.Affine));
        // voxel (i, j, k) of the RAS grid is voxel (32 − i, j, k) of the file, and both map to the same world point.
        foreach (var (i, j, k) in new[] { (0, 0, 0), (5, 20, 12), (32, 40, 24) })
        {
            Assert.Equal(image[32 - i, j, k], s.Values[i + 33 * (j + 41 * k)]);
            double[] a = s.Affine, b = image.Header.Affine;
            for (int r = 0; r < 3; r++)
                Assert.Equal(b[r * 4] * (32 - i) + b[r * 4 + 1] * j + b[r * 4 + 2] * k + b[r * 4 + 3], a[r * 4] * i + a[r * 4 + 1] * j + a[r * 4 + 2] * k + a[r * 4 + 3], 6);
        }
    }

    [Fact]
    public async Task Bad_files_are_named_with_their_field_skipped_and_counted()
    {
        File.Copy(Shared("medical/anatomical.nii"), P("good.nii"));
        var bytes = File.ReadAllBytes(Shared("medical/anatomical.nii"));
        File.WriteAllBytes(P("cut.nii"), bytes[..^500]);
        var bad = (byte[])bytes.Clone();
        bad[41] = 9; // dim[0] (big-endian int16 at 40) = 9
        File.WriteAllBytes(P("dim.nii"), bad);
        File.WriteAllBytes(P("text.nii.gz"), "not a volume"u8.ToArray());
        var (samples, issues) = await Read(root);
        Assert.Single(samples);
        Assert.Equal(3, issues.Count);
        Assert.Contains(issues.Items, e => e.File == P("cut.nii") && e.Reason.StartsWith("data: truncated"));
        Assert.Contains(issues.Items, e => e.File == P("dim.nii") && e.Reason.StartsWith("dim[0]: 9"));
        Assert.Contains(issues.Items, e => e.File == P("text.nii.gz") && e.Reason.StartsWith("sizeof_hdr"));
    }

    [Fact]
    public async Task Label_maps_pair_by_name_and_must_share_the_grid()
    {
        Directory.CreateDirectory(P("img"));
        Directory.CreateDirectory(P("lab"));
        var image = new NiftiBuilder { Dims = [8, 6, 4], SformCode = 2, Srow = [-2, 0, 0, 10, 0, 2, 0, -5, 0, 0, 3, 1], DataType = NiftiDataType.Float32 };
        image.Write(P("img/a.nii"));
        var labels = image with { DataType = NiftiDataType.UInt8, Values = Enumerable.Range(0, 192).Select(i => (double)(i % 8 < 4 ? 1 : 2)).ToArray() };
        labels.Write(P("lab/a.nii"));
        (image with { Dims = [8, 6, 5] }).Write(P("img/b.nii"));
        (labels with { Dims = [8, 6, 4] }).Write(P("lab/b.nii"));                     // wrong size for b
        image.Write(P("img/c.nii"));
        (labels with { Srow = [-2, 0, 0, 12, 0, 2, 0, -5, 0, 0, 3, 1] }).Write(P("lab/c.nii")); // shifted affine
        image.Write(P("img/d.nii"));                                                     // no label file

        var (samples, issues) = await Read(P("img"), ("labels", P("lab")));
        var a = (VolumeSample)Assert.Single(samples);
        Assert.Equal(P("lab/a.nii"), a.LabelSource);
        // Reoriented LAS → RAS: the label pattern (x < 4 → 1) is mirrored with the image.
        Assert.Equal(2f, a.LabelMap![0]);
        Assert.Equal(1f, a.LabelMap[7]);
        Assert.Equal(3, issues.Count);
        Assert.Contains(issues.Items, e => e.File == P("img/b.nii") && e.Reason.Contains("dim[3] differs"));
        Assert.Contains(issues.Items, e => e.File == P("img/c.nii") && e.Reason.Contains("another affine"));
        Assert.Contains(issues.Items, e => e.File == P("img/d.nii") && e.Reason.Contains("no label volume"));
    }

    [Fact]
    public void Summaries_list_shape_dtype_spacing_orientation_and_range_per_file()
    {
        var issues = new DataIssueLog();
        var list = NiftiReader.Summaries(new DataSpec("nifti", Shared("medical")), issues);
        Assert.Equal(4, list.Count);
        var anat = list[0];
        Assert.Equal(("33x41x25", "int16", "LAS", -610.0, 30393.0), (anat.Shape, anat.DType, anat.Orientation, anat.Min, anat.Max));
        Assert.Equal([2.0, 2, 2], anat.Spacing);
        var func = list.Single(f => f.File.EndsWith("functional.nii"));
        Assert.Equal("17x21x3x20", func.Shape);
        Assert.Equal(629.826171875, func.Min, 3);   // after scl_slope / scl_inter (nibabel)
        Assert.Equal(5571.621858656406, func.Max, 3);
    }

    [Fact]
    public async Task Analyze_needs_the_opt_in()
    {
        new NiftiBuilder { Version = 0, Pair = true }.Write(P("an.hdr"));
        var (none, issues) = await Read(P("an.hdr"));
        Assert.Empty(none);
        Assert.Contains("allow_analyze", Assert.Single(issues.Items).Reason);
        var (some, _) = await Read(P("an.hdr"), ("allow_analyze", "true"));
        Assert.Single(some);
    }
}

/// <summary>Preprocessing on tensors: spacing, windows, z-score, foreground crop.</summary>
public sealed class PreprocessTests
{
    [Fact]
    public void Resampling_to_a_spacing_changes_the_size_and_keeps_the_extent()
    {
        var data = arange(4 * 6 * 8, dtype: ScalarType.Float32).reshape(1, 4, 6, 8); // Z 4, Y 6, X 8
        var v = new GridVolume(data, [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1]); // 1 × 1 × 2 mm
        var r = VolumeOps.Resample(v, [2, 2, 2], nearest: false);
        Assert.Equal([1L, 4, 3, 4], r.Data.shape);
        Assert.Equal([2.0, 2, 2], r.Spacing);
        // The first voxel's centre moved half a voxel of the old grid: (0.5, 0.5, 0).
        Assert.Equal(0.5, r.Affine[3], 9);
        Assert.Equal(0.5, r.Affine[7], 9);
        Assert.Equal(0.0, r.Affine[11], 9);
        // Trilinear of a linear ramp is the ramp at the new centres: x centre 0.5 → value 0.5 along x.
        Assert.Equal(0.5 + 8 * 0.5, r.Data[0, 0, 0, 0].item<float>(), 4);
        // Nearest for labels keeps only the values present.
        var labels = new GridVolume((arange(4 * 6 * 8) % 3).to_type(ScalarType.Float32).reshape(1, 4, 6, 8), v.Affine);
        var l = VolumeOps.Resample(labels, [2, 2, 1], nearest: true);
        Assert.Equal([1L, 8, 3, 4], l.Data.shape);
        Assert.True(l.Data.unique().Item1.data<float>().ToArray().All(x => x is 0 or 1 or 2));
    }

    [Fact]
    public void Ct_window_and_mr_zscore()
    {
        var hu = tensor(new float[] { -1000, -175, 0, 250, 3000 }).reshape(1, 1, 1, 5);
        Assert.Equal([0f, 0f, 175f / 425, 1f, 1f], VolumeOps.Window(hu, -175, 250).flatten().data<float>().ToArray());
        var (lo, hi) = VolumePreprocess.ParseWindow("-100,300");
        Assert.Equal((-100.0, 300.0), (lo, hi));
        Assert.Throws<ArgumentException>(() => VolumePreprocess.ParseWindow("300,-100"));
        var mr = tensor(new float[] { 0, 0, 10, 20, 30, 0 }).reshape(1, 1, 1, 6);
        var z = VolumeOps.ZScoreNonZero(mr).flatten().data<float>().ToArray();
        Assert.Equal([0f, 0f, -1f, 0f, 1f, 0f], z); // mean 20, std 10 (unbiased) over the non-zero voxels
    }

    [Fact]
    public void Foreground_crop_keeps_the_box_plus_margin_and_moves_the_origin()
    {
        var data = zeros(1, 10, 10, 10);
        data[0, 3, 4, 5] = tensor(1f);
        data[0, 5, 6, 7] = tensor(1f);
        var p = new VolumePreprocess { Intensity = IntensityMode.Mr, ForegroundCrop = true, ForegroundMargin = 1, Reorient = false };
        var (image, _) = p.Apply(new GridVolume(data, [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]), null);
        Assert.Equal([1L, 5, 5, 5], image.Data.shape);     // z 2..6, y 3..7, x 4..8
        Assert.Equal([4.0, 3, 2], new[] { image.Affine[3], image.Affine[7], image.Affine[11] });
    }
}
