using Maskwork.Backend.Nn;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Volume.Preprocessing;

/// <summary>
/// A volume on its voxel grid: a [C, Z, Y, X] float tensor (x fastest, as NIfTI stores it) and the 4×4 row-major
/// voxel (i, j, k) → world (x, y, z) affine in mm.
/// </summary>
public sealed record GridVolume(Tensor Data, double[] Affine)
{
    public long Channels => Data.shape[0];

    /// <summary>Voxel counts along i, j, k (x, y, z voxel axes).</summary>
    public long[] Size => [Data.shape[3], Data.shape[2], Data.shape[1]];

    /// <summary>Voxel spacing along i, j, k: the lengths of the affine's columns.</summary>
    public double[] Spacing => [.. Enumerable.Range(0, 3).Select(a => VolumeOps.ColumnLength(Affine, a))];
}

/// <summary>
/// Clinical preprocessing as tensor ops (SelfMedMAE / MONAI's: Orientation RAS, Spacing, ScaleIntensityRange for CT,
/// NormalizeIntensity(nonzero) for MR, CropForeground). Every op returns a new <see cref="GridVolume"/> with its affine
/// updated, so a label map put through the same ops stays on the image's grid.
/// </summary>
public static class VolumeOps
{
    public static double ColumnLength(double[] a, int column) =>
        Math.Sqrt(a[column] * a[column] + a[4 + column] * a[4 + column] + a[8 + column] * a[8 + column]);

    /// <summary>
    /// Permutes and flips the voxel axes so that i runs to +R(x), j to +A(y), k to +S(z) (nibabel's
    /// <c>as_closest_canonical</c>): the axis matching is the affine's orientation code.
    /// </summary>
    public static GridVolume ReorientToRas(GridVolume v)
    {
        string code = Formats.Nifti.Orientations.Code(v.Affine);
        if (code == "RAS") return v;
        if (code.Contains('?')) throw new ArgumentException($"the affine has a zero-length axis (orientation {code}): cannot reorient");
        // world axis w ← voxel axis voxelOf[w]; sign −1 means the voxel axis runs the other way.
        var voxelOf = new int[3];
        var flip = new bool[3];
        for (int a = 0; a < 3; a++)
        {
            int w = "RAS".IndexOf(code[a]) is var p and >= 0 ? p : "LPI".IndexOf(code[a]);
            voxelOf[w] = a;
            flip[w] = "LPI".Contains(code[a]);
        }
        // Tensor dim of voxel axis a is 3 − a.
        var data = v.Data.permute(0, 3 - voxelOf[2], 3 - voxelOf[1], 3 - voxelOf[0]);
        var affine = new double[16];
        affine[15] = 1;
        for (int i = 0; i < 3; i++) affine[i * 4 + 3] = v.Affine[i * 4 + 3];
        var flipDims = new List<long>();
        for (int w = 0; w < 3; w++)
        {
            int a = voxelOf[w];
            long n = v.Size[a];
            for (int i = 0; i < 3; i++)
            {
                double c = v.Affine[i * 4 + a];
                if (flip[w])
                {
                    affine[i * 4 + 3] += c * (n - 1); // the new first voxel is the old last one
                    c = -c;
                }
                affine[i * 4 + w] = c;
            }
            if (flip[w]) flipDims.Add(3 - w);
        }
        if (flipDims.Count > 0) data = data.flip(flipDims.ToArray());
        return new GridVolume(data.contiguous(), affine);
    }

    /// <summary>
    /// Resamples to <paramref name="target"/> mm along i, j, k (values ≤ 0 keep that axis): trilinear for images,
    /// nearest for label maps. The new size is round(n · spacing / target); voxel edges stay aligned (align_corners = false).
    /// </summary>
    public static GridVolume Resample(GridVolume v, double[] target, bool nearest)
    {
        var spacing = v.Spacing;
        var size = v.Size;
        var newSize = new long[3];
        for (int a = 0; a < 3; a++) newSize[a] = target[a] > 0 ? Math.Max(1, (long)Math.Round(size[a] * spacing[a] / target[a])) : size[a];
        if (newSize.SequenceEqual(size)) return v;
        using var scope = NewDisposeScope();
        var x = v.Data.unsqueeze(0);
        long[] outSize = [newSize[2], newSize[1], newSize[0]];
        var y = nearest ? NearestExact(x, outSize) : nn.functional.interpolate(x, outSize, mode: InterpolationMode.Trilinear, align_corners: false);
        var affine = (double[])v.Affine.Clone();
        for (int a = 0; a < 3; a++)
        {
            double ratio = size[a] / (double)newSize[a];
            for (int i = 0; i < 3; i++)
            {
                double c = v.Affine[i * 4 + a];
                affine[i * 4 + 3] += c * (0.5 * ratio - 0.5);
                affine[i * 4 + a] = c * ratio;
            }
        }
        return new GridVolume(y.squeeze(0).contiguous().MoveToOuterDisposeScope(), affine);
    }

    /// <summary>Nearest resampling with voxel centres aligned (torch's nearest-exact): new voxel j takes old voxel ⌊(j + ½)·n/n'⌋ along each axis.</summary>
    static Tensor NearestExact(Tensor x, long[] outSize)
    {
        for (int d = 0; d < 3; d++)
        {
            long n = x.shape[2 + d], m = outSize[d];
            var index = arange(m, dtype: ScalarType.Float64).add(0.5).mul(n / (double)m).floor().clamp_max(n - 1).to_type(ScalarType.Int64);
            x = x.index_select(2 + d, index);
        }
        return x;
    }

    /// <summary>CT: clip to [low, high] Hounsfield units and scale to [0, 1] (SelfMedMAE: −175 … 250).</summary>
    public static Tensor Window(Tensor x, double low, double high)
    {
        using var k = new HeldScalars();
        return x.clamp(k[low], k[high]).sub(k[low]).div(k[high - low]);
    }

    /// <summary>MR: per channel, (x − mean) / std over the non-zero voxels; zero voxels stay zero (MONAI's NormalizeIntensity(nonzero=True)).</summary>
    public static Tensor ZScoreNonZero(Tensor x)
    {
        using var k = new HeldScalars();
        var result = new List<Tensor>();
        for (long c = 0; c < x.shape[0]; c++)
        {
            var ch = x[c];
            var nz = ch.ne(k[0]);
            long n = nz.sum().item<long>();
            if (n < 2) { result.Add(ch.clone()); continue; }
            var values = ch.masked_select(nz).to_type(ScalarType.Float64);
            double mean = values.mean().item<double>(), std = values.std().item<double>();
            if (!(std > 0)) std = 1;
            result.Add(where(nz, ch.sub(k[mean]).div(k[std]), zeros_like(ch)));
        }
        return stack(result);
    }

    /// <summary>The bounding box (start, length per tensor dim Z, Y, X) of voxels where <paramref name="foreground"/> holds in any channel, grown by <paramref name="margin"/>; null when empty.</summary>
    public static (long[] Start, long[] Length)? ForegroundBox(Tensor foreground, int margin)
    {
        var any = foreground.any(0); // [Z, Y, X]
        var start = new long[3];
        var length = new long[3];
        for (int d = 0; d < 3; d++)
        {
            var others = Enumerable.Range(0, 3).Where(o => o != d).Select(o => (long)o).ToArray();
            var profile = any.any(others[1]).any(others[0]); // reduce the higher dim first
            var idx = profile.nonzero();
            if (idx.shape[0] == 0) return null;
            long lo = idx[0].item<long>(), hi = idx[idx.shape[0] - 1].item<long>();
            lo = Math.Max(0, lo - margin);
            hi = Math.Min(any.shape[d] - 1, hi + margin);
            start[d] = lo;
            length[d] = hi - lo + 1;
        }
        return (start, length);
    }

    /// <summary>Crops tensor dims Z, Y, X of the volume to a box, updating the affine's origin.</summary>
    public static GridVolume Crop(GridVolume v, long[] start, long[] length)
    {
        var data = v.Data.narrow(1, start[0], length[0]).narrow(2, start[1], length[1]).narrow(3, start[2], length[2]).contiguous();
        var affine = (double[])v.Affine.Clone();
        // tensor dim d ↔ voxel axis 2 − d
        for (int i = 0; i < 3; i++)
            for (int d = 0; d < 3; d++) affine[i * 4 + 3] += v.Affine[i * 4 + (2 - d)] * start[d];
        return new GridVolume(data, affine);
    }
}
