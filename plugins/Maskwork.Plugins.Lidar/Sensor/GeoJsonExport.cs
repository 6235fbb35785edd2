using System.Text.Json;
using NetTopologySuite.Features;
using NetTopologySuite.Geometries;
using NetTopologySuite.IO.Converters;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Lidar.Sensor;

/// <summary>
/// One scan's mask as GeoJSON (NetTopologySuite.IO.GeoJSON4STJ), in the grid's metres about the sensor (no CRS: a local
/// frame), for any GIS viewer: a <c>sector</c> feature per non-empty sector (its polygon clipped to the region of
/// interest, <c>kept</c>, <c>occupied_voxels</c>, <c>area_m2</c>, <c>start_deg</c>) and a <c>cell</c> feature per occupied
/// bird's-eye cell (<c>occupied_voxels</c> over z, <c>masked</c>, <c>sector</c>).
/// </summary>
public static class GeoJsonExport
{
    /// <summary>The serializer settings that read and write NTS geometries and features.</summary>
    public static JsonSerializerOptions Options { get; } = new() { Converters = { new GeoJsonConverterFactory() } };

    /// <summary>The feature collection of one scan: occupancy [V] and mask [V] (true = masked) on the table's grid.</summary>
    public static FeatureCollection Features(SectorTable table, Tensor occupied, Tensor masked)
    {
        var grid = table.Grid;
        var occ = occupied.cpu().to_type(ScalarType.Float32).view(grid.Z, grid.Cells).sum([0L]).data<float>().ToArray();
        var hide = masked.cpu().view(grid.Z, grid.Cells).any(0).data<bool>().ToArray();
        var visible = masked.cpu().logical_not().view(grid.Z, grid.Cells).any(0).data<bool>().ToArray();
        var perSector = new double[table.SectorCount];
        var keptSector = new bool[table.SectorCount];
        for (int c = 0; c < grid.Cells; c++)
        {
            int s = table.Table[c];
            if (s < 0) continue;
            perSector[s] += occ[c];
            if (visible[c]) keptSector[s] = true;
        }
        var features = new FeatureCollection();
        for (int s = 0; s < table.SectorCount; s++)
        {
            if (perSector[s] == 0 || table.Sectors[s].IsEmpty) continue;
            features.Add(new Feature(table.Sectors[s], new AttributesTable
            {
                { "kind", "sector" }, { "sector", s }, { "kept", keptSector[s] }, { "occupied_voxels", (int)perSector[s] },
                { "area_m2", Math.Round(table.SectorAreas[s], 4) }, { "start_deg", table.Field.StartDegrees + s * table.Field.SectorDegrees },
            }));
        }
        var factory = new GeometryFactory();
        for (int iy = 0; iy < grid.Y; iy++)
            for (int ix = 0; ix < grid.X; ix++)
            {
                int c = iy * grid.X + ix;
                if (occ[c] == 0) continue;
                double x0 = grid.Range[0] + ix * grid.Voxel[0], y0 = grid.Range[1] + iy * grid.Voxel[1];
                features.Add(new Feature(factory.ToGeometry(new Envelope(x0, x0 + grid.Voxel[0], y0, y0 + grid.Voxel[1])), new AttributesTable
                {
                    { "kind", "cell" }, { "occupied_voxels", (int)occ[c] }, { "masked", hide[c] }, { "sector", table.Table[c] },
                }));
            }
        return features;
    }

    /// <summary>Writes <see cref="Features"/> to <paramref name="path"/> (atomically: a temporary file, then a rename).</summary>
    public static void Write(string path, SectorTable table, Tensor occupied, Tensor masked)
    {
        var json = JsonSerializer.Serialize(Features(table, occupied, masked), Options);
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string temp = full + ".tmp";
        File.WriteAllText(temp, json);
        File.Move(temp, full, overwrite: true);
    }
}
