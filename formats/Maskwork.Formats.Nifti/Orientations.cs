namespace Maskwork.Formats.Nifti;

/// <summary>Axis codes of affines (nibabel's <c>aff2axcodes</c>) and the quaternion rotation of the qform.</summary>
public static class Orientations
{
    /// <summary>
    /// For each voxel axis, the world axis it runs along most and its sign: <c>R</c>/<c>L</c> (x), <c>A</c>/<c>P</c> (y),
    /// <c>S</c>/<c>I</c> (z). The axes are matched greedily by the largest normalised direction cosine, as nibabel's
    /// <c>io_orientation</c> does after orthonormalising; an axis of zero length reads <c>?</c>.
    /// </summary>
    public static string Code(double[] affine)
    {
        var cos = new double[3, 3]; // [world, voxel]
        for (int j = 0; j < 3; j++)
        {
            double n = Math.Sqrt(affine[j] * affine[j] + affine[4 + j] * affine[4 + j] + affine[8 + j] * affine[8 + j]);
            for (int i = 0; i < 3; i++) cos[i, j] = n > 0 ? affine[i * 4 + j] / n : 0;
        }
        var code = new char[] { '?', '?', '?' };
        bool[] worldUsed = new bool[3], voxelUsed = new bool[3];
        for (int round = 0; round < 3; round++)
        {
            int bi = -1, bj = -1;
            double best = 0;
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++)
                    if (!worldUsed[i] && !voxelUsed[j] && Math.Abs(cos[i, j]) > best) { best = Math.Abs(cos[i, j]); bi = i; bj = j; }
            if (bi < 0) break;
            worldUsed[bi] = voxelUsed[bj] = true;
            code[bj] = cos[bi, bj] > 0 ? "RAS"[bi] : "LPI"[bi];
        }
        return new string(code);
    }

    /// <summary>The 3×3 rotation (row-major) of the unit quaternion (a, b, c, d) (nibabel's <c>quat2mat</c>).</summary>
    public static double[] QuaternionMatrix(double w, double x, double y, double z)
    {
        double n = w * w + x * x + y * y + z * z;
        if (n < 1e-300) return [1, 0, 0, 0, 1, 0, 0, 0, 1];
        double s = 2 / n, X = x * s, Y = y * s, Z = z * s;
        double wX = w * X, wY = w * Y, wZ = w * Z, xX = x * X, xY = x * Y, xZ = x * Z, yY = y * Y, yZ = y * Z, zZ = z * Z;
        return
        [
            1 - (yY + zZ), xY - wZ, xZ + wY,
            xY + wZ, 1 - (xX + zZ), yZ - wX,
            xZ - wY, yZ + wX, 1 - (xX + yY),
        ];
    }
}
