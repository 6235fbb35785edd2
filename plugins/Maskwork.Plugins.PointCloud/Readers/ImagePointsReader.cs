using System.Globalization;
using Maskwork.Backend.Data;
using System.Runtime.CompilerServices;
using Maskwork.Abstractions;

namespace Maskwork.Plugins.PointCloud.Readers;

/// <summary>
/// <c>fashion-mnist-points</c> / <c>mnist-points</c>: MNIST-family IDX images as labelled point
/// clouds, the plugin's benchmark data. Every pixel brighter than <c>data.threshold</c> (default
/// 0.25, on a 0–1 scale) becomes a point (x, y, intensity) with x, y in [−1, 1] (y up); 10 classes;
/// splits train (60,000) and test (10,000). Files are looked up in the spec's path, then
/// <c>$MASKWORK_DATA/&lt;name&gt;</c>, then <c>/usr/share/datasets/&lt;name&gt;</c>.
/// </summary>
public sealed class ImagePointsReader(string name, string folderName) : IDatasetReader
{
    public string Name { get; } = name;
    public string Description => $"{folderName} IDX images as (x, y, intensity) point clouds of the pixels above data.threshold; split train|test";

    public async IAsyncEnumerable<Sample> ReadAsync(DataSpec spec, IDataIssues issues, [EnumeratorCancellation] CancellationToken ct)
    {
        string text = spec.Option("threshold", "0.25");
        if (!float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float threshold) || threshold is < 0 or >= 1)
            throw new ArgumentException($"data.threshold must be a number in [0, 1), got '{text}'");
        string sampling = spec.Option("sampling", "pixels");
        if (sampling is not ("pixels" or "intensity")) throw new ArgumentException($"data.sampling must be 'pixels' or 'intensity', got '{sampling}'");
        int samplePoints = ParseInt(spec, "points", ParseInt(spec, "mesh_points", 1024));
        if (samplePoints < 1) throw new ArgumentException($"data.points must be positive, got {samplePoints}");
        int seed = ParseInt(spec, "seed", 0);
        var folders = IdxFiles.SearchFolders(spec.Path, folderName);
        string folder = IdxFiles.Locate(folders)
            ?? throw new DirectoryNotFoundException($"{Name}: no IDX files in {string.Join(", ", folders)}; set MASKWORK_DATA or pass --data {Name}:<folder>");
        await foreach (var idx in IdxFiles.ReadAsync(folder, spec.Split, issues, requireSplit: false, ct))
        {
            string split = idx.Split, imagesPath = idx.ImagesPath;
            int count = idx.Count, rows = idx.Rows, cols = idx.Cols;
            // Coordinates are normalised by (side − 1), so a one-pixel side cannot be a cloud.
            if (rows <= 1 || cols <= 1) { issues.Skip(imagesPath, $"images of {rows}x{cols} are too small for point clouds"); continue; }
            byte cut = (byte)Math.Floor(threshold * 255);
            for (int i = 0; i < count; i++)
            {
                ct.ThrowIfCancellationRequested();
                var pixels = idx.Image(i);
                if (sampling == "intensity")
                {
                    var sampled = SampleByIntensity(pixels, rows, cols, cut, samplePoints, MixSeed(seed, split, i));
                    if (sampled is null) { issues.Skip($"{imagesPath}#{i}", $"no pixel above the threshold {threshold}"); continue; }
                    yield return new Sample(sampled, [samplePoints, 3], idx.Label(i), $"{imagesPath}#{i}") { Split = split };
                    continue;
                }
                var points = new List<float>(rows * cols / 2 * 3);
                for (int r = 0; r < rows; r++)
                    for (int c = 0; c < cols; c++)
                    {
                        byte v = pixels[r * cols + c];
                        if (v <= cut) continue;
                        points.Add(2f * c / (cols - 1) - 1);
                        points.Add(1 - 2f * r / (rows - 1));
                        points.Add(v / 255f);
                    }
                if (points.Count == 0) { issues.Skip($"{imagesPath}#{i}", $"no pixel above the threshold {threshold}"); continue; }
                yield return new Sample(points.ToArray(), [points.Count / 3, 3], idx.Label(i), $"{imagesPath}#{i}") { Split = split };
            }
        }
    }

    /// <summary>
    /// A continuous cloud of <paramref name="count"/> points: each picks a pixel above
    /// <paramref name="cut"/> with probability ∝ its intensity and a uniform position inside it
    /// (so no two clouds share a lattice); z is the pixel's intensity. Null when no pixel passes.
    /// </summary>
    public static float[]? SampleByIntensity(ReadOnlySpan<byte> pixels, int rows, int cols, byte cut, int count, int seed)
    {
        var cumulative = new double[pixels.Length];
        var index = new int[pixels.Length];
        int n = 0;
        double total = 0;
        for (int p = 0; p < pixels.Length; p++)
        {
            if (pixels[p] <= cut) continue;
            total += pixels[p];
            cumulative[n] = total;
            index[n++] = p;
        }
        if (n == 0) return null;
        var rng = new Random(seed);
        var points = new float[count * 3];
        double dx = 2.0 / (cols - 1), dy = 2.0 / (rows - 1);
        for (int j = 0; j < count; j++)
        {
            double u = rng.NextDouble() * total;
            int k = Array.BinarySearch(cumulative, 0, n, u);
            k = k < 0 ? ~k : k;
            if (k >= n) k = n - 1;
            int p = index[k], r = p / cols, c = p % cols;
            points[3 * j] = (float)(dx * (c + rng.NextDouble() - 0.5) - 1);
            points[3 * j + 1] = (float)(1 - dy * (r + rng.NextDouble() - 0.5));
            points[3 * j + 2] = pixels[p] / 255f;
        }
        return points;
    }

    /// <summary>A stable per-image seed from the run's seed, the split and the image index.</summary>
    static int MixSeed(int seed, string split, int index)
    {
        uint h = (uint)seed * 0x9E3779B9u ^ (uint)index * 0x85EBCA6Bu ^ (split == "test" ? 0xC2B2AE35u : 0u);
        h ^= h >> 16; h *= 0x7FEB352Du; h ^= h >> 15; h *= 0x846CA68Bu; h ^= h >> 16;
        return (int)(h & 0x7fffffff);
    }

    static int ParseInt(DataSpec spec, string key, int fallback)
    {
        if (!spec.Options.TryGetValue(key, out var text)) return fallback;
        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : throw new ArgumentException($"data.{key} must be an integer, got '{text}'");
    }
}
