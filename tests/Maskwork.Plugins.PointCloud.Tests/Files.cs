using Maskwork.Formats.Geometry;
using System.Globalization;
using System.Text;
using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Plugins.PointCloud.Readers;

namespace Maskwork.Plugins.PointCloud.Tests;

/// <summary>The shared real files, a scratch folder per test class, and writers for variants.</summary>
static class Files
{
    public static string Shared(string relative)
    {
        foreach (var root in new[] { Path.Combine(AppContext.BaseDirectory, "../../../../../../shared/datasets"), "../shared/datasets" })
        {
            var path = Path.GetFullPath(Path.Combine(root, relative));
            if (File.Exists(path)) return path;
        }
        throw new FileNotFoundException($"shared dataset file {relative} not found");
    }

    public static string Pcd(string name) => Shared(Path.Combine("pointcloud", name));

    public static List<Sample> Read(IDatasetReader reader, string path, out DataIssueLog issues, IReadOnlyDictionary<string, string>? options = null)
    {
        var log = new DataIssueLog();
        var spec = new DataSpec(reader.Name, path) { Options = options ?? new Dictionary<string, string>() };
        var list = reader.ReadAsync(spec, log, CancellationToken.None).ToBlockingEnumerable().ToList();
        issues = log;
        return list;
    }

    static string F(float v) => v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>A PLY file of the cloud; with colour and faces it exercises skipped elements and list properties.</summary>
    public static byte[] Ply(PointCloudData cloud, string format, bool extras)
    {
        var header = new StringBuilder();
        header.Append("ply\n").Append($"format {format} 1.0\n").Append("comment written by a test\n");
        if (extras) header.Append("element camera 1\nproperty float view_x\nproperty list uchar int tags\n");
        header.Append($"element vertex {cloud.Points}\nproperty float x\nproperty float y\nproperty double z\n");
        bool normals = cloud.Columns.Contains("nx");
        if (normals) header.Append("property float nx\nproperty float ny\nproperty float nz\n");
        if (extras) header.Append("property uchar red\nproperty uchar green\nproperty uchar blue\n");
        if (extras) header.Append("element face 1\nproperty list uchar int vertex_indices\n");
        header.Append("end_header\n");
        using var ms = new MemoryStream();
        ms.Write(Encoding.ASCII.GetBytes(header.ToString()));
        int w = cloud.Width, values = normals ? 6 : 3;
        if (format == "ascii")
        {
            var body = new StringBuilder();
            if (extras) body.Append("0.5 2 7 9\n");
            for (int i = 0; i < cloud.Points; i++)
            {
                body.Append(string.Join(' ', Enumerable.Range(0, values).Select(c => F(cloud.Values[i * w + c]))));
                if (extras) body.Append($" {i % 256} {(i * 7) % 256} 255");
                body.Append('\n');
            }
            if (extras) body.Append("3 0 1 2\n");
            ms.Write(Encoding.ASCII.GetBytes(body.ToString()));
        }
        else
        {
            bool big = format == "binary_big_endian";
            using var bw = new BinaryWriter(ms, Encoding.ASCII, leaveOpen: true);
            void Float(float v) { var b = BitConverter.GetBytes(v); if (big) Array.Reverse(b); bw.Write(b); }
            void Double(double v) { var b = BitConverter.GetBytes(v); if (big) Array.Reverse(b); bw.Write(b); }
            void Int(int v) { var b = BitConverter.GetBytes(v); if (big) Array.Reverse(b); bw.Write(b); }
            if (extras) { Float(0.5f); bw.Write((byte)2); Int(7); Int(9); }
            for (int i = 0; i < cloud.Points; i++)
            {
                Float(cloud.Values[i * w]); Float(cloud.Values[i * w + 1]); Double(cloud.Values[i * w + 2]);
                for (int c = 3; c < values; c++) Float(cloud.Values[i * w + c]);
                if (extras) { bw.Write((byte)(i % 256)); bw.Write((byte)((i * 7) % 256)); bw.Write((byte)255); }
            }
            if (extras) { bw.Write((byte)3); Int(0); Int(1); Int(2); }
        }
        return ms.ToArray();
    }

    /// <summary>A PCD file of the cloud (x y z [normal_x normal_y normal_z]).</summary>
    public static byte[] Pcd(PointCloudData cloud, string data)
    {
        bool normals = cloud.Columns.Contains("nx");
        int n = cloud.Points, values = normals ? 6 : 3, w = cloud.Width;
        var header = $"# .PCD v0.7\nVERSION 0.7\nFIELDS x y z{(normals ? " normal_x normal_y normal_z" : "")}\nSIZE {string.Join(' ', Enumerable.Repeat("4", values))}\n" +
            $"TYPE {string.Join(' ', Enumerable.Repeat("F", values))}\nCOUNT {string.Join(' ', Enumerable.Repeat("1", values))}\nWIDTH {n}\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS {n}\nDATA {data}\n";
        using var ms = new MemoryStream();
        ms.Write(Encoding.ASCII.GetBytes(header));
        if (data == "ascii")
        {
            var body = new StringBuilder();
            for (int i = 0; i < n; i++) body.Append(string.Join(' ', Enumerable.Range(0, values).Select(c => F(cloud.Values[i * w + c])))).Append('\n');
            ms.Write(Encoding.ASCII.GetBytes(body.ToString()));
        }
        else
        {
            var raw = new byte[n * values * 4];
            for (int i = 0; i < n; i++)
                for (int c = 0; c < values; c++)
                {
                    // binary: point-major; binary_compressed: field-major.
                    int at = data == "binary" ? (i * values + c) * 4 : (c * n + i) * 4;
                    BitConverter.GetBytes(cloud.Values[i * w + c]).CopyTo(raw, at);
                }
            if (data == "binary") ms.Write(raw);
            else
            {
                var packed = Lzf.Compress(raw);
                ms.Write(BitConverter.GetBytes((uint)packed.Length));
                ms.Write(BitConverter.GetBytes((uint)raw.Length));
                ms.Write(packed);
            }
        }
        return ms.ToArray();
    }
}

/// <summary>A temporary folder deleted with the test class.</summary>
public sealed class Scratch : IDisposable
{
    public Scratch() => Directory.CreateDirectory(Root);
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "mw-points-" + Guid.NewGuid().ToString("N")[..8]);
    public string Write(string relative, byte[] bytes)
    {
        var path = Path.Combine(Root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
        return path;
    }
    public void Dispose() { try { Directory.Delete(Root, true); } catch (IOException) { } }
}

static class TensorExtensions
{
    /// <summary>Same shape and every element equal.</summary>
    public static bool Same(this TorchSharp.torch.Tensor a, TorchSharp.torch.Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();
}
