using System.Text;
using Maskwork.Formats.Geometry;

namespace Maskwork.Formats.Geometry.Tests;

/// <summary>The parsers on their own: real files from ../shared/datasets, the OFF family, LZF, and bad input named by file.</summary>
public sealed class FormatTests : IDisposable
{
    readonly string root = Directory.CreateTempSubdirectory("mw-formats-").FullName;
    public void Dispose() => Directory.Delete(root, true);

    static string Shared(string relative)
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !Directory.Exists(Path.Combine(d.FullName, "shared", "datasets"))) d = d.Parent;
        return Path.Combine(d?.FullName ?? throw new DirectoryNotFoundException("../shared/datasets not found"), "shared", "datasets", relative);
    }

    static byte[] Ascii(string s) => Encoding.ASCII.GetBytes(s);

    [Theory]
    [InlineData("pointcloud/bunny.pcd", 397, 3)]
    [InlineData("pointcloud/milk.pcd", 13704, 3)]
    [InlineData("pointcloud/chef.pcd", 5092, 6)]
    public void Pcd_files_parse(string file, int points, int columns)
    {
        var c = PcdFormat.Read(file, File.ReadAllBytes(Shared(file)));
        Assert.Equal(points, c.Points);
        Assert.Equal(columns, c.Width);
        Assert.All(c.Values, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void Known_values_of_real_files()
    {
        var bunny = PcdFormat.Read("bunny.pcd", File.ReadAllBytes(Shared("pointcloud/bunny.pcd")));
        Assert.Equal([0.0054216f, 0.11349f, 0.040749f], bunny.Values[..3]);
        var kitten = XyzFormat.Read("kitten.xyz", File.ReadAllBytes(Shared("pointcloud/kitten.xyz")));
        Assert.Equal(["x", "y", "z", "nx", "ny", "nz"], kitten.Columns);
        Assert.Equal([-0.0721898f, -0.159749f, -0.108444f, 0.340472f, 0.937712f, -0.0690972f], kitten.Values[..6]);
        var kitti = KittiFormat.Read("kitti.bin", File.ReadAllBytes(Shared("lidar/kitti-000008.bin")));
        Assert.Equal(17238, kitti.Points);
        var cow = OffFormat.ReadMesh("cow.off", File.ReadAllBytes(Shared("pointcloud/cow.off")));
        Assert.Equal(2904, cow.VertexCount);
        Assert.Equal(5804, cow.TriangleCount);
        Assert.Null(cow.VertexColors);
        Assert.Null(cow.FaceColors);
    }

    [Fact]
    public void The_shapes_meshes_keep_their_face_colours()
    {
        // ../shared/datasets/shapes: OFF with "3 i j k r g b" faces, 0–255.
        string file = Directory.GetFiles(Shared("shapes"), "*.off", SearchOption.AllDirectories).Order(StringComparer.Ordinal).First();
        var mesh = OffFormat.ReadMesh(file, File.ReadAllBytes(file));
        Assert.NotNull(mesh.FaceColors);
        Assert.Equal(mesh.TriangleCount * 4, mesh.FaceColors!.Length);
        Assert.All(mesh.FaceColors, c => Assert.InRange(c, 0f, 1f));
        Assert.True(mesh.FaceColors.Distinct().Count() > 2, "colours vary");
    }

    [Fact]
    public void Off_family_headers_and_fields()
    {
        // COFF: per-vertex RGBA 0–255; a quad (fan-triangulated) with a 0–1 face colour, comments and blank lines.
        var coff = OffFormat.ReadMesh("a.off", Ascii("# made by hand\nCOFF\n\n4 1 0\n0 0 0 255 0 0 255\n1 0 0 0 255 0 255\n1 1 0 0 0 255 255 # c\n0 1 0 255 255 255 128\n4 0 1 2 3 0.5 0.25 1.0\n"));
        Assert.Equal(2, coff.TriangleCount);
        Assert.Equal([0, 1, 2, 0, 2, 3], coff.Triangles);
        Assert.Equal([1f, 0f, 0f, 1f], coff.VertexColors![..4]);
        Assert.Equal(128 / 255f, coff.VertexColors[15], 6);
        Assert.Equal([0.5f, 0.25f, 1f, 1f, 0.5f, 0.25f, 1f, 1f], coff.FaceColors!);

        // STCNOFF: x y z, normal, colour (3 floats), texture s t; the counts on the header line.
        var all = OffFormat.ReadMesh("b.off", Ascii("STCNOFF 3 1 0\n0 0 0  0 0 1  0.1 0.2 0.3  0 0\n2 0 0  0 0 1  0.1 0.2 0.3  1 0\n0 2 0  0 0 1  0.1 0.2 0.3  0 1\n3 0 1 2 200 100 0\n"));
        Assert.Equal([0, 0, 0, 2, 0, 0, 0, 2, 0], all.Vertices);
        Assert.Equal([0.1f, 0.2f, 0.3f, 1f], all.VertexColors![..4]);
        Assert.Equal(200 / 255f, all.FaceColors![0], 6);

        // 4OFF divides by w; nOFF of dimension 3; ModelNet's "OFF490 518 0" first line.
        var homogeneous = OffFormat.ReadMesh("c.off", Ascii("4OFF\n3 1 0\n2 0 0 2\n4 0 0 2\n0 6 0 2\n3 0 1 2\n"));
        Assert.Equal([1, 0, 0, 2, 0, 0, 0, 3, 0], homogeneous.Vertices);
        Assert.Equal(1, OffFormat.ReadMesh("d.off", Ascii("nOFF\n3\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n")).TriangleCount);
        Assert.Equal(1, OffFormat.ReadMesh("e.off", Ascii("OFF3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n")).TriangleCount);
        // A colour-map index after a face is accepted and carries no colour.
        Assert.Null(OffFormat.ReadMesh("f.off", Ascii("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2 7\n")).FaceColors);
    }

    [Theory]
    [InlineData("XOFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n", "not an OFF file")]
    [InlineData("OFF BINARY\n", "binary OFF is not supported")]
    [InlineData("nOFF\n4\n3 1 0\n", "dimension 4")]
    [InlineData("COFF\n3 1 0\n0 0 0 1 1\n1 0 0\n0 1 0\n3 0 1 2\n", "line 3: a COFF vertex needs 3 + 3 or 4 colour values")]
    [InlineData("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2 1 1\n", "line 6: 2 values after the face's indices")]
    [InlineData("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 5\n", "vertex index 5 is outside 0..2")]
    [InlineData("OFF\n3 2 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n", "ends after 1 of 2 faces")]
    [InlineData("COFF\n3 1 0\n0 0 0 300 0 0\n1 0 0 0 0 0\n0 1 0 0 0 0\n3 0 1 2\n", "above 255")]
    [InlineData("4OFF\n3 1 0\n0 0 0 0\n1 0 0 1\n0 1 0 1\n3 0 1 2\n", "homogeneous coordinate w is 0")]
    public void Malformed_off_is_refused_naming_the_file_and_the_problem(string text, string expected)
    {
        var e = Assert.Throws<GeometryFormatException>(() => OffFormat.ReadMesh("/data/bad.off", Ascii(text)));
        Assert.Equal("/data/bad.off", e.File);
        Assert.Contains(expected, e.Reason);
        Assert.StartsWith("/data/bad.off: ", e.Message);
    }

    [Fact]
    public void Mesh_sampling_is_seeded_uniform_by_area_and_on_the_surface()
    {
        // Two triangles in z = 0 and z = 1 with areas 0.5 and 1.5: a quarter of the points on the first.
        var mesh = OffFormat.ReadMesh("two.off", Ascii("OFF\n6 2 0\n0 0 0\n1 0 0\n0 1 0\n0 0 1\n3 0 1\n0 1 1\n3 0 1 2\n3 3 4 5\n"));
        var a = MeshSampling.Sample("two.off", mesh, 8000, 0, out var from);
        Assert.Equal(a, MeshSampling.Sample("two.off", mesh, 8000, 0));
        Assert.NotEqual(a, MeshSampling.Sample("two.off", mesh, 8000, 1));
        int low = Enumerable.Range(0, 8000).Count(i => a[i * 3 + 2] < 0.5f);
        Assert.InRange(low / 8000.0, 0.23, 0.27);
        for (int i = 0; i < 8000; i++)
        {
            float x = a[i * 3], y = a[i * 3 + 1], z = a[i * 3 + 2];
            Assert.True(x >= -1e-6 && y >= -1e-6);
            Assert.True(z < 0.5 ? x + y <= 1 + 1e-5 : x / 3 + y <= 1 + 1e-5);
            Assert.Equal(z < 0.5 ? 0 : 1, from[i]);
        }
        var flat = OffFormat.ReadMesh("flat.off", Ascii("OFF\n3 1 0\n0 0 0\n1 0 0\n2 0 0\n3 0 1 2\n"));
        Assert.Contains("no surface area", Assert.Throws<GeometryFormatException>(() => MeshSampling.Sample("flat.off", flat, 10, 0)).Reason);
    }

    [Fact]
    public void Lzf_round_trips_and_rejects_bad_streams()
    {
        var rng = new Random(3);
        var data = new byte[20000];
        for (int i = 0; i < data.Length; i++) data[i] = i % 1000 < 500 ? (byte)rng.Next(256) : (byte)(i / 7 % 5);
        var packed = Lzf.Compress(data);
        Assert.True(packed.Length < data.Length);
        Assert.Equal(data, Lzf.Decompress(packed, data.Length));
        Assert.Throws<InvalidDataException>(() => Lzf.Decompress(packed, data.Length - 1));
        Assert.Throws<InvalidDataException>(() => Lzf.Decompress(packed, data.Length + 1));
        Assert.Throws<InvalidDataException>(() => Lzf.Decompress(packed[..^1], data.Length));
        Assert.Throws<InvalidDataException>(() => Lzf.Decompress([0x20, 0x05], 10));      // reference before the start
        // A hand-made stream: literal "ab", then a back-reference of length 4 at distance 2 → "ababab".
        Assert.Equal("ababab"u8.ToArray(), Lzf.Decompress([0x01, (byte)'a', (byte)'b', 0x40, 0x01], 6));
    }

    [Theory]
    [InlineData("ply", "plx\nformat ascii 1.0\nend_header\n", "not a PLY file")]
    [InlineData("pcd", "# .PCD v0.7\nVERSION 0.7\nFIELDZ x y z\n", "")]
    [InlineData("xyz", "1 2 3\n4 five 6\n", "'five' is not a number")]
    [InlineData("xyz", "1 2 3\n4 NaN 6\n", "non-finite")]
    [InlineData("kitti", "abc", "not a whole number of 16-byte")]
    public void Other_formats_refuse_bad_bytes_naming_the_file(string format, string text, string expected)
    {
        var bytes = Ascii(text);
        Func<PointCloudData> read = format switch
        {
            "ply" => () => PlyFormat.Read("/d/x", bytes),
            "pcd" => () => PcdFormat.Read("/d/x", bytes),
            "xyz" => () => XyzFormat.Read("/d/x", bytes),
            _ => () => KittiFormat.Read("/d/x", bytes),
        };
        var e = Assert.Throws<GeometryFormatException>(() => read());
        Assert.Equal("/d/x", e.File);
        Assert.Contains(expected, e.Reason);
    }

    /// <summary>A PLY quad + triangle mesh written three ways: ascii, binary little and big endian (independent writer).</summary>
    static byte[] PlyMeshBytes(string format)
    {
        // 5 vertices (float xyz, uchar rgb), a 'material' element between them to skip, 2 faces: a quad (ushort
        // indices, uchar count) with a face colour and alpha, then a triangle; each face also carries an int list to skip.
        double[][] v = [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0.5, 0.5, 2]];
        int[][] f = [[0, 1, 2, 3], [0, 1, 4]];
        byte[][] fc = [[255, 0, 0, 128], [0, 255, 0, 255]];
        var head = $"ply\nformat {format} 1.0\ncomment test\nelement vertex 5\nproperty float x\nproperty float y\nproperty float z\n" +
                   "property uchar red\nproperty uchar green\nproperty uchar blue\nelement material 1\nproperty list uchar int ids\n" +
                   "element face 2\nproperty list uchar ushort vertex_indices\nproperty uchar red\nproperty uchar green\nproperty uchar blue\nproperty uchar alpha\n" +
                   "property list uchar int extra\nend_header\n";
        var ms = new MemoryStream();
        ms.Write(Ascii(head));
        if (format == "ascii")
        {
            var sb = new StringBuilder();
            for (int i = 0; i < 5; i++) sb.Append($"{v[i][0]} {v[i][1]} {v[i][2]} {i * 50} 0 255\n");
            sb.Append("2 7 8\n");
            for (int i = 0; i < 2; i++) sb.Append($"{f[i].Length} {string.Join(' ', f[i])} {string.Join(' ', fc[i])} 1 9\n");
            ms.Write(Ascii(sb.ToString().Replace(',', '.')));
            return ms.ToArray();
        }
        bool big = format == "binary_big_endian";
        void W(byte[] b) { if (big) Array.Reverse(b); ms.Write(b); }
        for (int i = 0; i < 5; i++)
        {
            foreach (var x in v[i]) W(BitConverter.GetBytes((float)x));
            ms.Write([(byte)(i * 50), 0, 255]);
        }
        ms.WriteByte(2); W(BitConverter.GetBytes(7)); W(BitConverter.GetBytes(8));
        for (int i = 0; i < 2; i++)
        {
            ms.WriteByte((byte)f[i].Length);
            foreach (var k in f[i]) W(BitConverter.GetBytes((ushort)k));
            ms.Write(fc[i]);
            ms.WriteByte(1); W(BitConverter.GetBytes(9));
        }
        return ms.ToArray();
    }

    [Theory]
    [InlineData("ascii")]
    [InlineData("binary_little_endian")]
    [InlineData("binary_big_endian")]
    public void Ply_meshes_give_fan_triangulated_faces_and_their_colours(string format)
    {
        var m = PlyFormat.ReadMesh("m.ply", PlyMeshBytes(format));
        Assert.Equal(5, m.VertexCount);
        Assert.Equal([0.5, 0.5, 2], m.Vertices[12..15]);
        Assert.Equal([0, 1, 2, 0, 2, 3, 0, 1, 4], m.Triangles);
        Assert.Equal([200 / 255f, 0f, 1f, 1f], m.VertexColors![16..20]);
        Assert.Equal([1f, 0f, 0f, 128 / 255f, 1f, 0f, 0f, 128 / 255f, 0f, 1f, 0f, 1f], m.FaceColors!);
        // The point-cloud reading of the same file is unchanged: vertices with their colours, faces ignored.
        var points = PlyFormat.Read("m.ply", PlyMeshBytes(format));
        Assert.Equal(5, points.Points);
        Assert.Equal(["x", "y", "z", "r", "g", "b"], points.Columns);
    }

    [Theory]
    [InlineData("binary_little_endian", 40, "truncated")]
    [InlineData("ascii", 24, "truncated")]
    [InlineData("points", 0, "point cloud, not a mesh")]
    [InlineData("index", 0, "vertex index 7 is outside 0..2")]
    [InlineData("two", 0, "at least 3 vertices")]
    public void Malformed_ply_meshes_are_refused_naming_the_file(string kind, int cut, string expected)
    {
        const string tri = "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n0 0 0\n1 0 0\n0 1 0\n";
        byte[] bytes = kind switch
        {
            "points" => Ascii("ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\nend_header\n0 0 0\n"),
            "index" => Ascii(tri + "3 0 1 7\n"),
            "two" => Ascii(tri + "2 0 1\n"),
            _ => PlyMeshBytes(kind)[..^cut],
        };
        var e = Assert.Throws<GeometryFormatException>(() => PlyFormat.ReadMesh("/d/m.ply", bytes));
        Assert.Equal("/d/m.ply", e.File);
        Assert.Contains(expected, e.Reason);
    }
}
