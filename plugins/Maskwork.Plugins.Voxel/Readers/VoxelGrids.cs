using Maskwork.Abstractions;
using Maskwork.Backend.Nn;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Voxel.Readers;

/// <summary>Grid helpers in tensor ops: resizing to the model's side, NeRF density → opacity, samples in their natural type.</summary>
public static class VoxelGrids
{
    /// <summary>
    /// A [C, D, H, W] grid resized to S³: occupancy by adaptive max pooling down (a cell is occupied when any source
    /// cell in it is) for whole factors, else nearest; RGB-α by average pooling for whole factors, else trilinear. Unchanged when already S³.
    /// </summary>
    public static Tensor Resize(Tensor grid, int size, bool occupancy)
    {
        if (grid.shape[1] == size && grid.shape[2] == size && grid.shape[3] == size) return grid;
        var x = grid.unsqueeze(0).to_type(ScalarType.Float32);
        // Whole-factor shrinking pools (max for occupancy, mean for RGB-α); any other size is interpolated.
        var factor = grid.shape.Skip(1).Select(s => s % size == 0 ? s / size : 0).ToArray();
        if (factor.All(f => f >= 1))
            x = occupancy ? nn.functional.max_pool3d(x, factor, factor) : nn.functional.avg_pool3d(x, factor, factor);
        else
            x = nn.functional.interpolate(x, [size, size, size], mode: occupancy ? InterpolationMode.Nearest : InterpolationMode.Trilinear, align_corners: occupancy ? null : false);
        return x.squeeze(0);
    }

    /// <summary>NeRF-MAE's opacity from a NeRF density: α = clip(1 − exp(−exp(σ) / 100), 0, 1).</summary>
    public static Tensor AlphaFromSigma(Tensor sigma)
    {
        using var k = new HeldScalars();   // held: readers decode beside other threads (see Held)
        return sigma.exp().div(k[100.0]).neg().exp().neg().add(k[1.0], Held.One).clamp(k[0.0], k[1.0]);
    }

    /// <summary>An occupancy grid [1, S, S, S] as a uint8 sample (values 0/1).</summary>
    public static Sample Occupancy(Tensor grid, int? label, string source, string? split)
    {
        using var k = new HeldScalars();
        var bytes = grid.gt(k[0.5]).to_type(ScalarType.Byte).contiguous().data<byte>().ToArray();
        return Sample.Typed(bytes, SampleDType.UInt8, grid.shape.Select(s => (int)s).ToArray(), label, source) with { Split = split };
    }

    /// <summary>An RGB-α grid [4, S, S, S] as a float16 sample (values in [0, 1]).</summary>
    public static Sample Rgba(Tensor grid, int? label, string source, string? split)
    {
        using var k = new HeldScalars();
        var values = grid.to_type(ScalarType.Float32).clamp(k[0.0], k[1.0]).contiguous().data<float>().ToArray();
        var half = new Half[values.Length];
        for (int i = 0; i < values.Length; i++) half[i] = (Half)values[i];
        var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(new Span<Half>(half)).ToArray();
        return Sample.Typed(bytes, SampleDType.Float16, grid.shape.Select(s => (int)s).ToArray(), label, source) with { Split = split };
    }
}
