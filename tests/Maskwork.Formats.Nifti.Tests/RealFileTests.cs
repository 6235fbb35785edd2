using Maskwork.Formats.Nifti;

namespace Maskwork.Formats.Nifti.Tests;

/// <summary>
/// Every file in ../shared/datasets/medical (nibabel's test data) against values computed with Debian's
/// python3-nibabel 5.x at test-writing time (`nib.load(f)`: shape, dtype, zooms, affine, aff2axcodes, get_fdata()
/// min/max/sum and voxels) and pinned here; the tests do not need nibabel.
/// </summary>
public sealed class RealFileTests
{
    public static string Shared(string relative)
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !Directory.Exists(Path.Combine(d.FullName, "shared", "datasets"))) d = d.Parent;
        return Path.Combine(d?.FullName ?? throw new DirectoryNotFoundException("../shared/datasets not found"), "shared", "datasets", relative);
    }

    static void AffineEqual(double[] expected, double[] actual, double tolerance = 1e-5)
    {
        Assert.Equal(16, actual.Length);
        for (int i = 0; i < 16; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"affine[{i / 4},{i % 4}]: expected {expected[i]}, got {actual[i]}");
    }

    static (double Min, double Max, double Sum) Stats(float[] d) => (d.Min(), d.Max(), d.Sum(v => (double)v));

    [Fact]
    public void Anatomical_big_endian_int16_spm()
    {
        var img = NiftiFile.Read(Shared("medical/anatomical.nii"));
        var h = img.Header;
        Assert.Equal(NiftiVersion.Nifti1, h.Version);
        Assert.False(h.LittleEndian);                       // nibabel: dtype >i2
        Assert.Equal([33L, 41, 25], h.Shape);
        Assert.Equal("int16", h.DTypeName);
        Assert.Equal([2.0, 2, 2], h.Spacing);
        Assert.Equal("mm", h.SpatialUnits);
        Assert.Equal("s", h.TimeUnits);
        Assert.Equal(352, h.VoxOffset);
        Assert.Equal(2, h.SformCode);
        Assert.Equal(AffineSource.Sform, h.AffineSource);
        AffineEqual([-2, 0, 0, 32, 0, 2, 0, -40, 0, 0, 2, -16, 0, 0, 0, 1], h.Affine);
        // qform (quatern (0, 1, 0), qfac −1) agrees with the sform, as nibabel's get_qform() says.
        AffineEqual([-2, 0, 0, 32, 0, 2, 0, -40, 0, 0, 2, -16, 0, 0, 0, 1], h.QformAffine());
        Assert.Equal("LAS", h.Orientation);
        Assert.Equal("spm - 3D normalized", h.Description);
        var (min, max, sum) = Stats(img.Data);
        Assert.Equal((-610.0, 30393.0, 284166082.0), (min, max, sum));
        Assert.Equal(10712f, img[0, 0, 0]);
        Assert.Equal(11881f, img[16, 20, 12]);
        Assert.Equal(2971f, img[32, 40, 24]);
        Assert.Equal(9068f, img[11, 10, 12]);
    }

    /// <summary>The volume recipes' default data: mricron-data's Colin27 T1 (test.sh installs the Debian package).</summary>
    [Fact]
    public void Colin27_skull_stripped_t1_from_mricron_data()
    {
        const string file = "/usr/share/mricron/templates/ch2bet.nii.gz";
        Assert.True(File.Exists(file), $"{file} is missing: apt-get install mricron-data (test.sh does)");
        var img = NiftiFile.Read(file);
        var h = img.Header;
        Assert.Equal([181L, 217, 181], h.Shape);             // nibabel: (181, 217, 181) uint8, zooms 1 mm, RAS
        Assert.Equal("uint8", h.DTypeName);
        Assert.Equal([1.0, 1, 1], h.Spacing);
        AffineEqual([1, 0, 0, -90, 0, 1, 0, -125, 0, 0, 1, -71, 0, 0, 0, 1], h.Affine);
        Assert.Equal("RAS", h.Orientation);
        Assert.Equal((0f, 133f), (img.Data.Min(), img.Data.Max()));
        Assert.Equal(1737193, img.Data.Count(v => v > 0));
        Assert.Equal(33f, img[90, 108, 90]);
        Assert.Equal(113f, img[60, 100, 70]);
    }

    [Fact]
    public void Example4d_gzip_with_extensions_and_qform()
    {
        var img = NiftiFile.Read(Shared("medical/example4d.nii.gz"));
        var h = img.Header;
        Assert.True(h.LittleEndian);
        Assert.Equal([128L, 96, 24, 2], h.Shape);
        Assert.Equal(2, h.VolumeCount);
        Assert.Equal("int16", h.DTypeName);
        Assert.Equal(416, h.VoxOffset);
        Assert.Equal(2.0, h.Spacing[0]);
        Assert.Equal(2.199999, h.Spacing[2], 6);
        Assert.Equal(2000.0, h.PixDim[4]);
        Assert.Equal([(6, "extcomment1"), (6, "extlongcomment2")],
            h.Extensions.Select(e => (e.Code, System.Text.Encoding.ASCII.GetString(e.Content).TrimEnd('\0'))).ToArray());
        AffineEqual([-2.0, 6.714715653593746e-19, 9.081024511081715e-18, 117.8551025390625,
            -6.714715653593746e-19, 1.9737114906311035, -0.35552823543548584, -35.72294235229492,
            8.25548088896093e-18, 0.3232076168060303, 2.171081781387329, -7.248798370361328, 0, 0, 0, 1], h.Affine);
        // nibabel's get_qform() of the same header (float32 quaternion, qfac −1).
        AffineEqual([-1.999999995978187, 1.0282396754185892e-05, 0.00013905980362440367, 117.8551025390625,
            -1.0282396754185892e-05, 1.9737114380364735, -0.3555282247524397, -35.72294235229492,
            0.00012641805535562603, 0.32320761014906196, 2.1710816833341227, -7.248798370361328, 0, 0, 0, 1], h.QformAffine(), 1e-6);
        Assert.Equal("LAS", h.Orientation);
        Assert.Equal((0.0, 1162.0, 101985356.0), Stats(img.Data));
        Assert.Equal(266f, img[64, 48, 12, 1]);
        Assert.Equal(556f, img[42, 24, 12, 1]);
        Assert.Equal(0f, img[127, 95, 23, 1]);
    }

    [Fact]
    public void Example_nifti2()
    {
        var img = NiftiFile.Read(Shared("medical/example_nifti2.nii.gz"));
        var h = img.Header;
        Assert.Equal(NiftiVersion.Nifti2, h.Version);
        Assert.True(h.SingleFile);
        Assert.Equal([32L, 20, 12, 2], h.Shape);
        Assert.Equal(608, h.VoxOffset);
        Assert.Equal("int16", h.DTypeName);
        Assert.Equal(2.1999990940093994, h.Spacing[2], 12);
        Assert.Equal(2, h.Extensions.Count);
        AffineEqual([-2.0, 6.714715653593746e-19, 9.081024511081715e-18, 117.8551025390625,
            -6.714715653593746e-19, 1.9737114906311035, -0.35552823543548584, -35.72294235229492,
            8.25548088896093e-18, 0.3232076168060303, 2.171081781387329, -7.248798370361328, 0, 0, 0, 1], h.Affine);
        Assert.Equal("LAS", h.Orientation);
        Assert.Equal((46.0, 757.0, 6926802.0), Stats(img.Data));
        Assert.Equal(439f, img[0, 0, 0, 1]);
        Assert.Equal(266f, img[16, 10, 6, 1]);
        Assert.Equal(457f, img[31, 19, 11, 1]);
        Assert.Equal(406f, img[10, 5, 6, 1]);
    }

    [Fact]
    public void Functional_4d_with_slope_and_intercept()
    {
        var img = NiftiFile.Read(Shared("medical/functional.nii"));
        var h = img.Header;
        Assert.Equal([17L, 21, 3, 20], h.Shape);
        Assert.Equal(20, h.VolumeCount);
        Assert.Equal(17 * 21 * 3, h.VolumeVoxels);
        Assert.Equal([4.0, 4, 8], h.Spacing);
        Assert.Equal(2.0, h.PixDim[4]);
        Assert.Equal(0.07540696859359741, h.Slope, 12);
        Assert.Equal(3100.76171875, h.Intercept, 12);
        AffineEqual([-4, 0, 0, 32, 0, 4, 0, -40, 0, 0, 8, 0, 0, 0, 0, 1], h.Affine);
        var (min, max, sum) = Stats(img.Data);
        Assert.Equal(629.826171875, min, 3);
        Assert.Equal(5571.621858656406, max, 3);
        Assert.True(Math.Abs(77913290.36292362 - sum) < 50, $"sum {sum}");
        Assert.Equal(3971.1089502573013, img[0, 0, 0, 19], 3);
        Assert.Equal(3910.858782351017, img[8, 10, 1, 19], 3);
        Assert.Equal(3129.3409598469734, img[16, 20, 2, 19], 3);
        Assert.Equal(3930.540001153946, img[5, 5, 1, 19], 3);
        Assert.Equal(img.Data.AsSpan(19 * 1071, 1071).ToArray(), img.Volume(19).ToArray());
    }

    [Fact]
    public void Every_file_in_the_medical_folder_reads()
    {
        var files = Directory.GetFiles(Shared("medical")).Where(NiftiFile.IsHeaderName).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["anatomical.nii", "example4d.nii.gz", "example_nifti2.nii.gz", "functional.nii"], files.Select(f => Path.GetFileName(f)).ToArray());
        foreach (var f in files)
        {
            var img = NiftiFile.Read(f);
            Assert.Equal(img.Header.VoxelCount, img.Data.Length);
            Assert.All(img.Data, v => Assert.True(float.IsFinite(v)));
            Assert.Equal(img.Header.Shape, NiftiFile.ReadHeader(f).Shape);
        }
    }
}
