namespace Maskwork.Formats.Nifti;

/// <summary>The NIfTI <c>datatype</c> codes (nifti1.h). Only the real scalar ones are read.</summary>
public enum NiftiDataType : short
{
    Binary = 1, UInt8 = 2, Int16 = 4, Int32 = 8, Float32 = 16, Complex64 = 32, Float64 = 64, Rgb24 = 128,
    Int8 = 256, UInt16 = 512, UInt32 = 768, Int64 = 1024, UInt64 = 1280, Float128 = 1536, Complex128 = 1792,
    Complex256 = 2048, Rgba32 = 2304,
}

/// <summary>Which header a file carries.</summary>
public enum NiftiVersion { Analyze = 0, Nifti1 = 1, Nifti2 = 2 }

/// <summary>
/// How the voxel-to-world affine was chosen, as nibabel's <c>get_best_affine</c>: the sform when its code is non-zero,
/// else the qform (quaternion), else the Analyze-style base affine from pixdim.
/// </summary>
public enum AffineSource { Sform, Qform, Pixdim }

/// <summary>A NIfTI-1/NIfTI-2/Analyze header, decoded into version-independent fields.</summary>
public sealed record NiftiHeader
{
    public required NiftiVersion Version { get; init; }
    /// <summary>True for a single <c>.nii</c> file (<c>n+1</c>/<c>n+2</c>), false for a <c>.hdr/.img</c> pair (<c>ni1</c>/<c>ni2</c>, Analyze).</summary>
    public required bool SingleFile { get; init; }
    public required bool LittleEndian { get; init; }
    /// <summary>The size of each dimension, x first: <c>dim[1..dim[0]]</c>.</summary>
    public required long[] Shape { get; init; }
    public required NiftiDataType DataType { get; init; }
    public required int BitPix { get; init; }
    /// <summary><c>pixdim[0..7]</c> as stored (pixdim[0] is qfac).</summary>
    public required double[] PixDim { get; init; }
    /// <summary>Byte offset of the voxels in the data file (the .nii itself or the .img).</summary>
    public required long VoxOffset { get; init; }
    /// <summary>The scaling applied to stored values (1 and 0 when the file has none or slope is 0/NaN/∞).</summary>
    public required double Slope { get; init; }
    public required double Intercept { get; init; }
    public required int QformCode { get; init; }
    public required int SformCode { get; init; }
    /// <summary>quatern_b, c, d then qoffset_x, y, z.</summary>
    public required double[] Quaternion { get; init; }
    /// <summary>srow_x, srow_y, srow_z (12 values, row-major).</summary>
    public required double[] Srow { get; init; }
    public required int XyzUnitsCode { get; init; }
    public required int TimeUnitsCode { get; init; }
    public required string Description { get; init; }
    public required int IntentCode { get; init; }
    /// <summary>Header extensions (code, payload), walked but never used for the data offset.</summary>
    public required IReadOnlyList<NiftiExtension> Extensions { get; init; }

    public int Rank => Shape.Length;
    public long VoxelCount => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>Voxels of one 3-D volume (dims 1–3; missing ones count 1).</summary>
    public long VolumeVoxels => Dim(0) * Dim(1) * Dim(2);

    /// <summary>3-D volumes in the file: the product of dims 4–7 (time points, then components).</summary>
    public long VolumeCount => VoxelCount / VolumeVoxels;

    /// <summary>Size of dimension <paramref name="axis"/> (0-based), 1 beyond the rank.</summary>
    public long Dim(int axis) => axis < Shape.Length ? Shape[axis] : 1;

    /// <summary>Voxel spacing along x, y, z (|pixdim[1..3]|, 1 beyond the rank), in <see cref="SpatialUnits"/>.</summary>
    public double[] Spacing => [Zoom(0), Zoom(1), Zoom(2)];

    double Zoom(int axis) => axis < Shape.Length ? Math.Abs(PixDim[axis + 1]) : 1.0;

    /// <summary>The spatial unit: <c>m</c>, <c>mm</c>, <c>um</c> or <c>unknown</c>.</summary>
    public string SpatialUnits => XyzUnitsCode switch { 1 => "m", 2 => "mm", 3 => "um", _ => "unknown" };

    /// <summary>The time unit: <c>s</c>, <c>ms</c>, <c>us</c>, <c>hz</c>, <c>ppm</c>, <c>rads</c> or <c>unknown</c>.</summary>
    public string TimeUnits => TimeUnitsCode switch { 8 => "s", 16 => "ms", 24 => "us", 32 => "hz", 40 => "ppm", 48 => "rads", _ => "unknown" };

    /// <summary>The dtype as stored, numpy-style: <c>uint8</c>, <c>int16</c>, <c>float32</c>, …</summary>
    public string DTypeName => NiftiDataTypes.Name(DataType);

    /// <summary>Which affine <see cref="Affine"/> is.</summary>
    public AffineSource AffineSource => SformCode != 0 ? AffineSource.Sform : QformCode != 0 ? AffineSource.Qform : AffineSource.Pixdim;

    /// <summary>The voxel (i, j, k) → world (x, y, z) affine, 4×4 row-major, chosen as nibabel's <c>get_best_affine</c>.</summary>
    public double[] Affine => AffineSource switch
    {
        AffineSource.Sform => SformAffine(),
        AffineSource.Qform => QformAffine(),
        _ => BaseAffine(),
    };

    /// <summary>The orientation code of the affine, e.g. <c>RAS</c> or <c>LPS</c>: where each voxel axis points.</summary>
    public string Orientation => Orientations.Code(Affine);

    public double[] SformAffine() =>
        [Srow[0], Srow[1], Srow[2], Srow[3], Srow[4], Srow[5], Srow[6], Srow[7], Srow[8], Srow[9], Srow[10], Srow[11], 0, 0, 0, 1];

    /// <summary>The qform affine: rotation from the quaternion, zooms pixdim[1..3] with qfac on z, offsets qoffset.</summary>
    public double[] QformAffine()
    {
        double b = Quaternion[0], c = Quaternion[1], d = Quaternion[2];
        double w2 = 1 - (b * b + c * c + d * d);
        // nibabel's fillpositive: a tiny negative w² from float32 rounding reads as 0; the header check refuses larger.
        double a = w2 < 0 ? 0 : Math.Sqrt(w2);
        var r = Orientations.QuaternionMatrix(a, b, c, d);
        double qfac = PixDim[0] == 0 ? 1 : PixDim[0];
        double[] zoom = [Math.Abs(PixDim[1]), Math.Abs(PixDim[2]), Math.Abs(PixDim[3]) * qfac];
        var m = new double[16];
        for (int i = 0; i < 3; i++)
        {
            for (int j = 0; j < 3; j++) m[i * 4 + j] = r[i * 3 + j] * zoom[j];
            m[i * 4 + 3] = Quaternion[3 + i];
        }
        m[15] = 1;
        return m;
    }

    /// <summary>nibabel's Analyze-style base affine: x flipped, the centre voxel at the origin.</summary>
    public double[] BaseAffine()
    {
        double[] zoom = [-Zoom(0), Zoom(1), Zoom(2)];
        var m = new double[16];
        for (int i = 0; i < 3; i++)
        {
            m[i * 4 + i] = zoom[i];
            m[i * 4 + 3] = -(Dim(i) - 1) / 2.0 * zoom[i];
        }
        m[15] = 1;
        return m;
    }
}

/// <summary>One header extension: its <c>ecode</c> and payload (esize − 8 bytes).</summary>
public sealed record NiftiExtension(int Code, byte[] Content);

/// <summary>Sizes and names of the datatypes.</summary>
public static class NiftiDataTypes
{
    /// <summary>Bits per voxel of a known code, or 0.</summary>
    public static int Bits(NiftiDataType t) => t switch
    {
        NiftiDataType.Binary => 1,
        NiftiDataType.UInt8 or NiftiDataType.Int8 => 8,
        NiftiDataType.Int16 or NiftiDataType.UInt16 => 16,
        NiftiDataType.Rgb24 => 24,
        NiftiDataType.Int32 or NiftiDataType.UInt32 or NiftiDataType.Float32 or NiftiDataType.Rgba32 => 32,
        NiftiDataType.Int64 or NiftiDataType.UInt64 or NiftiDataType.Float64 or NiftiDataType.Complex64 => 64,
        NiftiDataType.Float128 or NiftiDataType.Complex128 => 128,
        NiftiDataType.Complex256 => 256,
        _ => 0,
    };

    public static string Name(NiftiDataType t) => t switch
    {
        NiftiDataType.UInt8 => "uint8", NiftiDataType.Int8 => "int8", NiftiDataType.Int16 => "int16",
        NiftiDataType.UInt16 => "uint16", NiftiDataType.Int32 => "int32", NiftiDataType.UInt32 => "uint32",
        NiftiDataType.Int64 => "int64", NiftiDataType.UInt64 => "uint64", NiftiDataType.Float32 => "float32",
        NiftiDataType.Float64 => "float64", NiftiDataType.Float128 => "float128", NiftiDataType.Complex64 => "complex64",
        NiftiDataType.Complex128 => "complex128", NiftiDataType.Complex256 => "complex256", NiftiDataType.Rgb24 => "rgb24",
        NiftiDataType.Rgba32 => "rgba32", NiftiDataType.Binary => "binary",
        _ => $"unknown({(short)t})",
    };

    /// <summary>The scalar types this reader decodes.</summary>
    public static bool Readable(NiftiDataType t) => t is NiftiDataType.UInt8 or NiftiDataType.Int8 or NiftiDataType.Int16
        or NiftiDataType.UInt16 or NiftiDataType.Int32 or NiftiDataType.UInt32 or NiftiDataType.Int64 or NiftiDataType.UInt64
        or NiftiDataType.Float32 or NiftiDataType.Float64;
}
