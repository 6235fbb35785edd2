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
