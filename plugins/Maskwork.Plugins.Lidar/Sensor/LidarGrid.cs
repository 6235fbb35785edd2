using System.Globalization;

namespace Maskwork.Plugins.Lidar.Sensor;

/// <summary>
/// The voxel grid: a metric box about the sensor (<see cref="Range"/> = xmin, ymin, zmin, xmax, ymax, zmax) cut into
/// voxels of <see cref="Voxel"/> = (vx, vy, vz) metres. Voxels are numbered z-major, then y, then x (the token order,
/// axes z, y, x); a bird's-eye cell is (y, x) and its index is y·X + x.
/// </summary>
public sealed record LidarGrid(double[] Range, double[] Voxel)
{
    public int X { get; } = Size(Range, Voxel, 0);
    public int Y { get; } = Size(Range, Voxel, 1);
    public int Z { get; } = Size(Range, Voxel, 2);

    /// <summary>Bird's-eye cells (Y·X).</summary>
    public int Cells => X * Y;

    /// <summary>Voxels (Z·Y·X).</summary>
    public int Voxels => X * Y * Z;

    /// <summary>The grid's dims as the token layout has them: z, y, x.</summary>
    public int[] Dims => [Z, Y, X];

    static int Size(double[] range, double[] voxel, int axis)
    {
        if (range.Length != 6) throw new ArgumentException($"the range needs 6 numbers xmin,ymin,zmin,xmax,ymax,zmax, got {range.Length}");
        if (voxel.Length != 3) throw new ArgumentException($"the voxel size needs 3 numbers vx,vy,vz, got {voxel.Length}");
        double extent = range[axis + 3] - range[axis];
        if (!(extent > 0) || !(voxel[axis] > 0)) throw new ArgumentException($"axis {"xyz"[axis]}: range {range[axis]}…{range[axis + 3]} and voxel {voxel[axis]} must be positive");
        int n = (int)Math.Round(extent / voxel[axis]);
        if (Math.Abs(n * voxel[axis] - extent) > 1e-6 * Math.Max(1, extent))
            throw new ArgumentException($"axis {"xyz"[axis]}: the range {extent.ToString(CultureInfo.InvariantCulture)} m is not a whole number of {voxel[axis].ToString(CultureInfo.InvariantCulture)} m voxels");
        if (n > 4096) throw new ArgumentException($"axis {"xyz"[axis]}: {n} voxels is too many");
        return n;
    }

    /// <summary>The metric centre (x, y) of bird's-eye cell (iy, ix).</summary>
    public (double X, double Y) CellCentre(int iy, int ix) => (Range[0] + (ix + 0.5) * Voxel[0], Range[1] + (iy + 0.5) * Voxel[1]);

    public bool Equals(LidarGrid? other) => other is not null && Range.SequenceEqual(other.Range) && Voxel.SequenceEqual(other.Voxel);

    public override int GetHashCode() => Range.Concat(Voxel).Aggregate(17, (h, v) => h * 31 + v.GetHashCode());

    public override string ToString() => $"{X}×{Y}×{Z} voxels of {string.Join('×', Voxel.Select(v => v.ToString(CultureInfo.InvariantCulture)))} m";
}
