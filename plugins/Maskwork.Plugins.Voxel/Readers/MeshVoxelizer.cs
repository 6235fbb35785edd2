using Maskwork.Backend.Nn;
using Maskwork.Formats.Geometry;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Voxel.Readers;

/// <summary>How <see cref="MeshVoxelizer"/> turns a mesh into a grid.</summary>
/// <param name="Size">Grid side S (S³ cells).</param>
/// <param name="Margin">Empty border as a share of the side: the mesh's largest bounding-box extent spans S·(1 − 2·margin) cells.</param>
/// <param name="Fill">Also mark the cells the surface encloses (6-connected flood fill of the outside from the border).</param>
/// <param name="Up">The mesh axis that becomes grid axis 0 (0 = x, 1 = y, 2 = z): z for KiCad and ModelNet, y for ShapeNet.</param>
/// <param name="Density">Surface samples per unit of cell-face area (a cell face is 1×1 in grid units).</param>
public sealed record VoxelizeOptions(int Size = 32, double Margin = 1.0 / 32, bool Fill = false, int Up = 2, double Density = 16)
{
    public void Validate()
    {
        if (Size is < 2 or > 512) throw new ArgumentException($"data.grid must be 2…512, got {Size}");
        if (Margin is < 0 or >= 0.5) throw new ArgumentException($"data.margin must be in [0, 0.5), got {Margin}");
        if (Up is < 0 or > 2) throw new ArgumentException($"data.up must be x, y or z, got {Up}");
        if (!(Density > 0)) throw new ArgumentException($"data.density must be positive, got {Density}");
    }
}

/// <summary>A voxelised mesh: occupancy [S, S, S] (0/1 bytes, C order, axis 0 = up) and, for coloured meshes, RGB [3, S, S, S] in [0, 1].</summary>
public sealed record VoxelizedMesh(int Size, byte[] Occupancy, float[]? Rgb, double Scale, double[] Centre);

/// <summary>
/// Surface voxelisation by dense area-weighted surface sampling, in tensor ops: the mesh is centred on its bounding
/// box and scaled into the grid (largest extent → S·(1 − 2·margin) cells); triangles are drawn with probability ∝ area
/// (a seeded generator), points placed uniformly in them (√u barycentrics), ~<see cref="VoxelizeOptions.Density"/>
/// samples per unit area plus every vertex, and each cell holding a sample is occupied; with colours, a cell's RGB is
/// the mean of its samples' face (or vertex) colours — so area-weighted, as a renderer would see it.
/// <para>
/// Why sampling, not triangle–box overlap: it is a handful of batched ops (multinomial, gather, index_put) with no
/// per-triangle candidate boxes; colour averaging falls out of the same scatter; and on these CAD meshes (separate
/// shells, not watertight) exact overlap buys nothing. The cost is that a cell touched only by a sliver of area much
/// smaller than 1/density may be missed; the tests bound that on a cube and a sphere with known cell counts.
/// </para>
/// </summary>
public static class MeshVoxelizer
{
    const long MaxSamples = 4_000_000;

    public static VoxelizedMesh Voxelize(Mesh mesh, VoxelizeOptions options, long seed)
    {
        options.Validate();
        using var scope = NewDisposeScope();
        // Every constant is a held Scalar: readers decode beside other threads, and a GC there can free a temporary one mid-call.
        using var k = new HeldScalars();
        int S = options.Size;
        // Mesh axes reordered so that the up axis comes first, then the other two in cyclic order: z→(z,y,x)... as (up, up−1, up−2).
        long[] axes = [options.Up, (options.Up + 2) % 3, (options.Up + 1) % 3];
        var v = tensor(mesh.Vertices, [mesh.VertexCount, 3]).index_select(1, tensor(axes));   // float64
        var lo = v.amin(0); var hi = v.amax(0);
        double extent = (hi - lo).max().item<double>();
        if (!(extent > 0) || !double.IsFinite(extent)) throw new GeometryFormatException("mesh", "the mesh has no extent to voxelise");
        var centre = lo.Plus(hi).div(k[2.0]);
        double scale = S * (1 - 2 * options.Margin) / extent;
        var g = (v - centre).mul(k[scale]).add(k[S / 2.0], Held.One);                                               // grid units, [0, S)
        var tri = tensor(mesh.Triangles, [mesh.TriangleCount, 3], dtype: ScalarType.Int64);
        var a = g.index_select(0, tri[.., 0]); var b = g.index_select(0, tri[.., 1]); var c = g.index_select(0, tri[.., 2]);
        var u = b - a; var w = c - a;
        var normal = stack([u[.., 1] * w[.., 2] - u[.., 2] * w[.., 1], u[.., 2] * w[.., 0] - u[.., 0] * w[.., 2], u[.., 0] * w[.., 1] - u[.., 1] * w[.., 0]], 1);
        var area = (normal * normal).sum(1).sqrt().mul(k[0.5]);
        double total = area.sum().item<double>();
        if (!(total > 0)) throw new GeometryFormatException("mesh", "the mesh has no surface area");
        long n = Math.Clamp((long)Math.Ceiling(total * options.Density), 1024, MaxSamples);
        var gen = new Generator((ulong)seed);
        var pick = area.to_type(ScalarType.Float64).multinomial(n, replacement: true, generator: gen);
        var r1 = rand([n, 1], dtype: ScalarType.Float64, generator: gen).sqrt();
        var r2 = rand([n, 1], dtype: ScalarType.Float64, generator: gen);
        Tensor OneMinus(Tensor x) => x.neg().add(k[1.0], Held.One);
        var (w0, w1, w2) = (OneMinus(r1), r1 * OneMinus(r2), r1 * r2);   // barycentric weights
        var points = (w0 * a.index_select(0, pick)).Plus(w1 * b.index_select(0, pick)).Plus(w2 * c.index_select(0, pick));
        var all = cat([points, g], 0);
        var cell = all.floor().to_type(ScalarType.Int64).clamp(k.Int(0), k.Int(S - 1));
        var linear = cell[.., 0].mul(k.Int(S)).Plus(cell[.., 1]).mul(k.Int(S)).Plus(cell[.., 2]);
        var occupied = zeros(S * S * S, dtype: ScalarType.Float32).index_fill_(0, linear, k[1.0]);

        float[]? rgb = null;
        if (mesh.FaceColors is not null || mesh.VertexColors is not null)
        {
            Tensor colour;   // per sample [n + V, 3]
            if (mesh.FaceColors is not null)
            {
                var face = tensor(mesh.FaceColors, [mesh.TriangleCount, 4]).narrow(1, 0, 3);
                // A vertex takes the colour of (one of) its faces: the last face that names it.
                var vertexFace = zeros(mesh.VertexCount, 3).index_copy_(0, tri.flatten(), face.repeat_interleave(3, 0));
                colour = cat([face.index_select(0, pick), vertexFace], 0);
            }
            else
            {
                var vc = tensor(mesh.VertexColors!, [mesh.VertexCount, 4]).narrow(1, 0, 3);
                var blend = (w0 * vc.index_select(0, tri[.., 0].index_select(0, pick)).to_type(ScalarType.Float64))
                    .Plus(w1 * vc.index_select(0, tri[.., 1].index_select(0, pick)).to_type(ScalarType.Float64))
                    .Plus(w2 * vc.index_select(0, tri[.., 2].index_select(0, pick)).to_type(ScalarType.Float64));
                colour = cat([blend.to_type(ScalarType.Float32), vc], 0);
            }
            var sums = zeros(S * S * S, 3).index_add_(0, linear, colour, Held.One);
            var counts = zeros(S * S * S, 1).index_add_(0, linear, ones(linear.shape[0], 1), Held.One);
            rgb = sums.div(counts.clamp_min(k[1.0])).t().contiguous().data<float>().ToArray();
        }
        var grid = occupied.view(S, S, S);
        if (options.Fill) grid = FillEnclosed(grid);
        var occupancy = grid.to_type(ScalarType.Byte).contiguous().data<byte>().ToArray();
        return new VoxelizedMesh(S, occupancy, rgb, scale, centre.data<double>().ToArray());
    }

    /// <summary>
    /// Cells not reachable from the border through empty cells (6-connected) become occupied: the enclosed interior.
    /// A flood fill of the outside rather than ray parity against the triangles: parity needs a watertight, consistently
    /// closed mesh and these CAD meshes (separate shells that touch or intersect) are not; the flood fill only needs the
    /// sampled shell to be 6-separating, which the default density gives (a 32³ icosphere fills every cell whose centre
    /// is inside, the test). An open shell (a cup) stays hollow, as it should.
    /// </summary>
    public static Tensor FillEnclosed(Tensor occupied)
    {
        using var k = new HeldScalars();
        var empty = occupied.eq(k[0.0]).to_type(ScalarType.Float32);
        // Seed: the empty border cells.
        var border = ones_like(empty);
        border.narrow(0, 1, border.shape[0] - 2).narrow(1, 1, border.shape[1] - 2).narrow(2, 1, border.shape[2] - 2).fill_(k[0.0]);
        var outside = border * empty;
        double before = -1;
        for (int it = 0; it < 4 * occupied.numel(); it++)
        {
            var grown = outside.clone();
            for (int d = 0; d < 3; d++)
            {
                long len = outside.shape[d];
                grown.narrow(d, 1, len - 1).add_(outside.narrow(d, 0, len - 1), Held.One);
                grown.narrow(d, 0, len - 1).add_(outside.narrow(d, 1, len - 1), Held.One);
            }
            outside = grown.clamp_max(k[1.0]) * empty;
            if (it % 8 == 7)
            {
                double now = outside.sum().item<float>();
                if (now == before) break;
                before = now;
            }
        }
        return outside.neg().add(k[1.0], Held.One);
    }
}
