using Maskwork.Plugins.PointCloud.Readers;

namespace Maskwork.Plugins.PointCloud.Tests;

public sealed class ImagePointsTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("maskwork-image-points-").FullName;
    public void Dispose() => Directory.Delete(folder, recursive: true);

    // 4×4 image: one bright pixel (255) at row 0, col 3, one at 85 (row 2, col 1), the rest dark.
    static byte[] Image()
    {
        var pixels = new byte[16];
        pixels[0 * 4 + 3] = 255;
        pixels[2 * 4 + 1] = 85;
        return pixels;
    }

    static int Be(byte[] b, int o, int v) { b[o] = (byte)(v >> 24); b[o + 1] = (byte)(v >> 16); b[o + 2] = (byte)(v >> 8); b[o + 3] = (byte)v; return v; }

    void WriteIdx(params byte[][] images)
    {
        var img = new byte[16 + images.Length * 16];
        Be(img, 0, 0x803); Be(img, 4, images.Length); Be(img, 8, 4); Be(img, 12, 4);
        for (int i = 0; i < images.Length; i++) images[i].CopyTo(img, 16 + i * 16);
        var lab = new byte[8 + images.Length];
        Be(lab, 0, 0x801); Be(lab, 4, images.Length);
        for (int i = 0; i < images.Length; i++) lab[8 + i] = (byte)(i % 10);
        File.WriteAllBytes(Path.Combine(folder, "train-images-idx3-ubyte"), img);
        File.WriteAllBytes(Path.Combine(folder, "train-labels-idx1-ubyte"), lab);
    }

    [Fact]
    public void Intensity_sampling_stays_inside_bright_pixels_in_proportion_to_intensity()
    {
        var points = ImagePointsReader.SampleByIntensity(Image(), 4, 4, 10, 4000, seed: 7)!;
        Assert.Equal(4000 * 3, points.Length);
        double half = 1.0 / 3;   // half a pixel: the pixel pitch is 2/(4−1)
        int bright = 0;
        var xs = new HashSet<float>();
        for (int j = 0; j < 4000; j++)
        {
            float x = points[3 * j], y = points[3 * j + 1], z = points[3 * j + 2];
            xs.Add(x);
            if (z == 1f)
            {   // pixel (0, 3): centre x = 1, y = 1
                bright++;
                Assert.InRange(x, 1 - half - 1e-6, 1 + half + 1e-6);
                Assert.InRange(y, 1 - half - 1e-6, 1 + half + 1e-6);
            }
            else
            {   // pixel (2, 1): centre x = −1/3, y = −1/3, intensity 1/3
                Assert.Equal(85 / 255f, z);
                Assert.InRange(x, -1.0 / 3 - half - 1e-6, -1.0 / 3 + half + 1e-6);
                Assert.InRange(y, -1.0 / 3 - half - 1e-6, -1.0 / 3 + half + 1e-6);
            }
        }
        // Probability ∝ intensity: 255 / (255 + 85) = 0.75 of the points.
        Assert.InRange(bright / 4000.0, 0.72, 0.78);
        // Continuous, not a lattice: almost every x is distinct.
        Assert.True(xs.Count > 3900);
    }

    [Fact]
    public void Intensity_sampling_is_seeded_and_returns_null_without_bright_pixels()
    {
        var a = ImagePointsReader.SampleByIntensity(Image(), 4, 4, 10, 64, seed: 1)!;
        Assert.Equal(a, ImagePointsReader.SampleByIntensity(Image(), 4, 4, 10, 64, seed: 1));
        Assert.NotEqual(a, ImagePointsReader.SampleByIntensity(Image(), 4, 4, 10, 64, seed: 2));
        Assert.Null(ImagePointsReader.SampleByIntensity(new byte[16], 4, 4, 10, 64, seed: 1));
    }

    [Fact]
    public void The_reader_samples_a_fixed_count_per_image_when_asked_and_keeps_pixels_by_default()
    {
        var other = Image();
        other[5] = 200;
        WriteIdx(Image(), other);
        var reader = new ImagePointsReader("fashion-mnist-points", "fashion-mnist");
        var pixels = Files.Read(reader, folder, out var issues);
        Assert.Equal(0, issues.Count);
        Assert.Equal([2, 3], pixels[0].Shape);           // the two pixels above the 0.25 threshold
        Assert.Equal([3, 3], pixels[1].Shape);

        var opts = new Dictionary<string, string> { ["sampling"] = "intensity", ["points"] = "32", ["seed"] = "5" };
        var sampled = Files.Read(reader, folder, out issues, opts);
        Assert.Equal(0, issues.Count);
        Assert.All(sampled, s => Assert.Equal([32, 3], s.Shape));
        Assert.Equal([0, 1], sampled.Select(s => s.Label!.Value));
        // The same seed gives the same clouds; each image gets its own draw.
        Assert.Equal(sampled[0].Values, Files.Read(reader, folder, out _, opts)[0].Values);
        Assert.NotEqual(sampled[0].Values, Files.Read(reader, folder, out _, new Dictionary<string, string>(opts) { ["seed"] = "6" })[0].Values);
        Assert.Throws<ArgumentException>(() => Files.Read(reader, folder, out _, new Dictionary<string, string> { ["sampling"] = "lattice" }));
    }
}
