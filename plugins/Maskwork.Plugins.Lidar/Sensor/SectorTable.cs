using System.Collections.Concurrent;
using NetTopologySuite.Geometries;
using NetTopologySuite.Geometries.Prepared;
using NetTopologySuite.Index.Strtree;
using NetTopologySuite.Utilities;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Lidar.Sensor;

/// <summary>
/// The sensor's 2-D geometry on a grid, computed once with NetTopologySuite: the region of interest (the range box ∩
/// the field-of-view wedge, minus the ego box), the angular sectors as pie slices (<c>CreateArcPolygon</c>) clipped to
/// it, and the bird's-eye cell → sector table: each cell's piece of the region is intersected exactly with the sectors
/// an <see cref="STRtree{T}"/> finds near it, and the cell goes to the sector holding most of its area (−1 = outside
/// the region). Masking uses the table as an int64 tensor (<see cref="CellSectors"/>) in every step.
/// </summary>
public sealed class SectorTable
{
    static readonly ConcurrentDictionary<(LidarGrid, SensorField), Lazy<SectorTable>> Cache = new();
    static readonly GeometryFactory Factory = new();

    SectorTable(LidarGrid grid, SensorField field)
    {
        Grid = grid;
        Field = field;
        var r = grid.Range;
        Geometry box = Factory.ToGeometry(new Envelope(r[0], r[3], r[1], r[4]));
        double radius = 2 * new[] { (r[0], r[1]), (r[0], r[4]), (r[3], r[1]), (r[3], r[4]) }.Max(c => Math.Sqrt(c.Item1 * c.Item1 + c.Item2 * c.Item2)) + 1;
        Geometry roi = field.FovDegrees >= 360 ? box : box.Intersection(Slice(field.StartDegrees, field.FovDegrees, radius));
        if (field.EgoBox is [var ex0, var ey0, var ex1, var ey1]) roi = roi.Difference(Factory.ToGeometry(new Envelope(ex0, ex1, ey0, ey1)));
        Region = roi;
        if (roi.IsEmpty) throw new ArgumentException($"the region of interest is empty: the range {string.Join(',', r)} and the field of view {field.FovDegrees}° around {field.HeadingDegrees}° do not overlap");

        int sectors = field.Sectors;
        Sectors = new Geometry[sectors];
        SectorAreas = new double[sectors];
        var tree = new STRtree<int>();
        var prepared = new IPreparedGeometry[sectors];
        for (int s = 0; s < sectors; s++)
        {
            double start = field.StartDegrees + s * field.SectorDegrees;
            double extent = Math.Min(field.SectorDegrees, field.FovDegrees - s * field.SectorDegrees);
            Sectors[s] = roi.Intersection(Slice(start, extent, radius));
            SectorAreas[s] = Sectors[s].Area;
            if (Sectors[s].IsEmpty) continue;
            tree.Insert(Sectors[s].EnvelopeInternal, s);
            prepared[s] = PreparedGeometryFactory.Prepare(Sectors[s]);
        }
        tree.Build();

        var preparedRoi = PreparedGeometryFactory.Prepare(roi);
        var table = new int[grid.Cells];
        CellAreas = new double[grid.Cells];
        PieceAreas = new double[sectors];
        for (int iy = 0; iy < grid.Y; iy++)
            for (int ix = 0; ix < grid.X; ix++)
            {
                int c = iy * grid.X + ix;
                table[c] = -1;
                double x0 = r[0] + ix * grid.Voxel[0], y0 = r[1] + iy * grid.Voxel[1];
                var cell = Factory.ToGeometry(new Envelope(x0, x0 + grid.Voxel[0], y0, y0 + grid.Voxel[1]));
                if (!preparedRoi.Intersects(cell)) continue;
                Geometry piece = preparedRoi.Contains(cell) ? cell : roi.Intersection(cell);
                double area = piece.Area;
                if (area <= 0) continue;
                CellAreas[c] = area;
                int best = -1;
                double bestArea = 0;
                foreach (int s in tree.Query(cell.EnvelopeInternal))
                {
                    double a = prepared[s].Contains(piece) ? area : prepared[s].Intersects(piece) ? Sectors[s].Intersection(piece).Area : 0;
                    PieceAreas[s] += a;
                    if (a > bestArea) (best, bestArea) = (s, a);
                }
                table[c] = best;
            }
        Table = table;
        using var scope = NewDisposeScope();
        CellSectors = tensor(table.Select(v => (long)v).ToArray()).DetachFromDisposeScope();
        var distance = new float[grid.Cells];
        for (int iy = 0; iy < grid.Y; iy++)
            for (int ix = 0; ix < grid.X; ix++)
            {
                var (x, y) = grid.CellCentre(iy, ix);
                distance[iy * grid.X + ix] = (float)Math.Sqrt(x * x + y * y);
            }
        CellDistances = tensor(distance).DetachFromDisposeScope();
    }

    /// <summary>The table of <paramref name="grid"/> and <paramref name="field"/>, built once per process.</summary>
    public static SectorTable For(LidarGrid grid, SensorField field)
    {
        field.Validate();
        if (field.SectorDegrees > 180) throw new ArgumentException($"a sector is at most 180° wide, got {field.SectorDegrees}");
        return Cache.GetOrAdd((grid, field), k => new Lazy<SectorTable>(() => new SectorTable(k.Item1, k.Item2))).Value;
    }

    /// <summary>A pie slice about the origin from <paramref name="startDegrees"/> over <paramref name="extentDegrees"/>.</summary>
    static Geometry Slice(double startDegrees, double extentDegrees, double radius)
    {
        var shapes = new GeometricShapeFactory(Factory)
        {
            Centre = new Coordinate(0, 0), Size = 2 * radius, NumPoints = Math.Max(4, (int)Math.Ceiling(extentDegrees) + 2),
        };
        return shapes.CreateArcPolygon(startDegrees * Math.PI / 180, extentDegrees * Math.PI / 180);
    }

    public LidarGrid Grid { get; }
    public SensorField Field { get; }

    /// <summary>The region of interest.</summary>
    public Geometry Region { get; }

    /// <summary>Each sector's part of the region (possibly empty).</summary>
    public Geometry[] Sectors { get; }

    /// <summary>Each sector's area (m²) inside the region.</summary>
    public double[] SectorAreas { get; }

    /// <summary>Each cell's area inside the region (0 outside).</summary>
    public double[] CellAreas { get; }

    /// <summary>Per sector, the sum over cells of the cell ∩ sector pieces: equals <see cref="SectorAreas"/> when the cells tile the region.</summary>
    public double[] PieceAreas { get; }

    /// <summary>Bird's-eye cell (y·X + x) → sector, −1 outside the region.</summary>
    public IReadOnlyList<int> Table { get; }

    /// <summary><see cref="Table"/> as an int64 tensor [Y·X] on the CPU (callers move it once to their device).</summary>
    public Tensor CellSectors { get; }

    /// <summary>Each cell centre's horizontal distance from the sensor (m), float32 [Y·X].</summary>
    public Tensor CellDistances { get; }

    /// <summary>Sectors across the field of view.</summary>
    public int SectorCount => Sectors.Length;
}
