using Maskwork.Abstractions;

namespace Maskwork.Plugins.PointCloud.Readers;

/// <summary>Settings every point format may use; from <see cref="DataSpec.Options"/>.</summary>
/// <param name="MeshPoints">Points sampled from each mesh (OFF).</param>
/// <param name="Seed">Seed of mesh sampling (mixed with the file name, so files differ but runs repeat).</param>
public sealed record PointReadOptions(int MeshPoints = 1024, int Seed = 0)
{
    public static PointReadOptions From(DataSpec spec)
    {
        int points = Parse(spec, "mesh_points", 1024), seed = Parse(spec, "seed", 0);
        if (points <= 0) throw new ArgumentException($"data.mesh_points must be positive, got {points}");
        return new PointReadOptions(points, seed);
    }

    static int Parse(DataSpec spec, string key, int fallback)
    {
        string text = spec.Option(key, fallback.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int v)
            ? v : throw new ArgumentException($"data.{key} must be an integer, got '{text}'");
    }
}
