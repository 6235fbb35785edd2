using TorchSharp;
using static TorchSharp.torch;

namespace Maskwork.Backend.Devices;

/// <summary>
/// Mixed precision without autocast: matmuls and attention run in <see cref="Compute"/> (bf16 when
/// asked), while weights, norms, softmax statistics and losses stay fp32. Layers read the current
/// setting at forward time; the trainer sets it for the thread that runs the step.
/// </summary>
public static class Precision
{
    [ThreadStatic] static ScalarType? compute;

    /// <summary>Dtype of matmul inputs on this thread (fp32 unless a scope says otherwise).</summary>
    public static ScalarType Compute => compute ?? ScalarType.Float32;

    /// <summary>Parses <c>fp32|bf16</c>.</summary>
    public static ScalarType Parse(string name) => name.ToLowerInvariant() switch
    {
        "fp32" or "float32" => ScalarType.Float32,
        "bf16" or "bfloat16" => ScalarType.BFloat16,
        _ => throw new ArgumentException($"unknown precision '{name}': use fp32 or bf16"),
    };

    /// <summary>The CLI name of a compute dtype.</summary>
    public static string Name(ScalarType t) => t == ScalarType.BFloat16 ? "bf16" : "fp32";

    /// <summary>
    /// Whether this CPU multiplies bf16 in hardware (AVX512-BF16 or AMX-BF16 in /proc/cpuinfo); null where that cannot be
    /// read. Without them libtorch converts to fp32 around every product: on an AVX2-only EPYC bf16 ran video-step
    /// 11× slower than fp32 (7.5 vs 86 clips/s).
    /// </summary>
    public static bool? CpuHasBf16 { get; } = ReadCpuBf16();

    static bool? ReadCpuBf16()
    {
        try { return HasBf16Flag(File.ReadLines("/proc/cpuinfo")); }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    /// <summary>Whether the first <c>flags</c> line of a /proc/cpuinfo text lists avx512_bf16 or amx_bf16 (null: no flags line).</summary>
    public static bool? HasBf16Flag(IEnumerable<string> cpuinfo)
    {
        foreach (var line in cpuinfo)
        {
            int colon = line.IndexOf(':');
            if (colon < 0 || line[..colon].Trim() != "flags") continue;
            return line[(colon + 1)..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries).Any(f => f is "avx512_bf16" or "amx_bf16");
        }
        return null;
    }

    /// <summary>A warning for bf16 compute on a CPU without bf16 instructions (null when there is nothing to warn about).</summary>
    public static string? Bf16Warning(ScalarType dtype, torch.Device device) =>
        dtype == ScalarType.BFloat16 && device.type == DeviceType.CPU && CpuHasBf16 == false
            ? "bf16 on a CPU without bf16 instructions (no avx512_bf16 or amx_bf16 flag): libtorch emulates it, several times slower than fp32 here (--precision fp32)"
            : null;

    /// <summary>Sets the compute dtype until disposed.</summary>
    public static IDisposable Use(ScalarType dtype)
    {
        var previous = compute;
        compute = dtype;
        return new Restore(previous);
    }

    sealed class Restore(ScalarType? previous) : IDisposable
    {
        public void Dispose() => compute = previous;
    }
}
