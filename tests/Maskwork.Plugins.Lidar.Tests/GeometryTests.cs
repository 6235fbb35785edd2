using Maskwork.Plugins.Lidar.Sensor;
using Maskwork.Plugins.Lidar.Voxels;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Lidar.Tests;

/// <summary>The NetTopologySuite sector table and the tensor voxeliser.</summary>
public sealed class GeometryTests
{
    static readonly LidarGrid Small = new([0, -20, -2, 40, 20, 2], [1, 1, 1]);

    [Theory]
    [InlineData(90, 0, 10)]
    [InlineData(360, 0, 10)]
    [InlineData(120, 30, 15)]
    public void The_sector_table_partitions_the_region_exactly_and_agrees_with_atan2(double fov, double heading, double width)
    {
        var table = SectorTable.For(Small, new SensorField(fov, heading, width, [-2, -1, 2, 1]));
        double region = table.Region.Area;
        Assert.True(region > 0);
        Assert.Equal(region, table.SectorAreas.Sum(), 6);   // the sectors tile the region
        Assert.Equal(region, table.CellAreas.Sum(), 6);     // so do the cells
        for (int s = 0; s < table.SectorCount; s++) Assert.Equal(table.SectorAreas[s], table.PieceAreas[s], 6); // cell pieces add up per sector
        int agree = 0, cells = 0;
        for (int iy = 0; iy < Small.Y; iy++)
            for (int ix = 0; ix < Small.X; ix++)
            {
                int c = iy * Small.X + ix, s = table.Table[c];
                Assert.Equal(table.CellAreas[c] > 0, s >= 0);  // every cell touching the region is in exactly one sector
                if (s < 0) continue;
                Assert.InRange(s, 0, table.SectorCount - 1);
                var (x, y) = Small.CellCentre(iy, ix);
                if (table.Field.SectorOf(x, y) < 0) continue; // a coarse cell cut by the fov's edge: its centre lies outside
                cells++;
                if (table.Field.SectorOf(x, y) == s) agree++;
            }
        Assert.True(agree >= 0.99 * cells, $"{agree} of {cells} cells agree with atan2 at their centres");
        Assert.Same(table, SectorTable.For(Small, new SensorField(fov, heading, width, [-2, -1, 2, 1]))); // computed once
    }

    [Fact]
    public void The_kitti_front_view_table_at_0_4_m_agrees_with_atan2()
    {
        var grid = new LidarGrid([0, -40, -3, 70.4, 40, 1], [0.4, 0.4, 0.4]);
        var table = SectorTable.For(grid, new SensorField(90, 0, 1, [-2.5, -1, 2.5, 1]));
        Assert.Equal(90, table.SectorCount);
        Assert.Equal(table.Region.Area, table.SectorAreas.Sum(), 4);
        int cells = 0, agree = 0;
        for (int iy = 0; iy < grid.Y; iy++)
            for (int ix = 0; ix < grid.X; ix++)
            {
                int s = table.Table[iy * grid.X + ix];
                if (s < 0) continue;
                cells++;
                var (x, y) = grid.CellCentre(iy, ix);
                if (table.Field.SectorOf(x, y) == s) agree++;
            }
        Assert.True(agree >= 0.99 * cells, $"{agree} of {cells}");
    }

    [Fact]
    public void Voxelisation_equals_a_brute_force_count()
    {
        var grid = new LidarGrid([0, -4, -1, 8, 4, 1], [1, 1, 0.5]);
        var rng = new Random(5);
        int n = 3000;
        var pts = new float[n * 5];
        for (int i = 0; i < n; i++)
        {
            // Clustered points (so voxels overflow the bound) and some outside the grid.
            pts[i * 5] = (float)(rng.NextDouble() * 10 - 1);
            pts[i * 5 + 1] = (float)(rng.NextDouble() * (i % 3 == 0 ? 1 : 9) - 4.5);
            pts[i * 5 + 2] = (float)(rng.NextDouble() * 2.4 - 1.2);
            pts[i * 5 + 3] = (float)rng.NextDouble();
            pts[i * 5 + 4] = rng.Next(-1, 3);
        }
        const int bound = 4;
        var v = new Voxelizer(grid, bound).Apply(tensor(pts, [n, 5]), classes: 3);
        var count = new int[grid.Voxels];
        var sums = new double[grid.Voxels, 4];
        var votes = new int[grid.Voxels, 3];
        for (int i = 0; i < n; i++)
        {
            int ix = (int)Math.Floor(pts[i * 5] / 1.0), iy = (int)Math.Floor((pts[i * 5 + 1] + 4) / 1.0), iz = (int)Math.Floor((pts[i * 5 + 2] + 1) / 0.5);
            if (ix < 0 || ix >= grid.X || iy < 0 || iy >= grid.Y || iz < 0 || iz >= grid.Z) continue;
            int vox = iz * grid.Cells + iy * grid.X + ix;
            if (count[vox] == bound) continue; // the first `bound` points in file order
            count[vox]++;
            sums[vox, 0] += (pts[i * 5] - 0) / 8.0;
            sums[vox, 1] += (pts[i * 5 + 1] + 4) / 8.0;
            sums[vox, 2] += (pts[i * 5 + 2] + 1) / 2.0;
            sums[vox, 3] += pts[i * 5 + 3];
            int l = (int)pts[i * 5 + 4];
            if (l >= 0) votes[vox, l]++;
        }
        var f = v.Features.data<float>().ToArray();
        var labels = v.Labels!.data<long>().ToArray();
        Assert.Equal(count.Sum(), (int)v.Counts.sum().item<float>());
        Assert.Contains(count, c => c == bound);
        for (int vox = 0; vox < grid.Voxels; vox++)
        {
            Assert.Equal(count[vox], (int)v.Counts[vox].item<float>());
            Assert.Equal(count[vox] > 0 ? 1f : 0f, f[vox * 5]);
            for (int k = 0; k < 4; k++) Assert.Equal(count[vox] > 0 ? sums[vox, k] / count[vox] : 0, f[vox * 5 + 1 + k], 4);
            int best = -1, top = 0;
            for (int l = 0; l < 3; l++) if (votes[vox, l] > top) (best, top) = (l, votes[vox, l]);
            Assert.Equal(best, (int)labels[vox]);
        }
    }

    [Fact]
    public void Augmentation_follows_the_sample_key()
    {
        var a = new ScanAugment();
        Assert.Equal(a.Matrix(11), a.Matrix(11));
        Assert.NotEqual(a.Matrix(11), a.Matrix(12));
        var m = new ScanAugment(1, 0, 1, 1).Matrix(3); // a sure flip, no rotation or scaling: y → −y
        Assert.Equal(new double[,] { { 1, 0, 0 }, { 0, -1, 0 }, { 0, 0, 1 } }, m);
    }
}
