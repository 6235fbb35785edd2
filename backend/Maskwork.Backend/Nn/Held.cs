using TorchSharp;
using static TorchSharp.torch;

namespace Maskwork.Backend.Nn;

/// <summary>
/// Scalars that live as long as the process, and the tensor sums that use them. TorchSharp 0.107 turns a
/// .NET number passed where a Scalar is expected (including the hidden alpha = 1 of tensor <c>+</c> and
/// <c>-</c>) into a finalizable Scalar that nothing references once its handle is read; a GC started by
/// another thread (the data thread allocates) can then free it while libtorch still reads it: the
/// "toFloat" crash seen in the graph trainer and in <c>mae-step</c>. Code that runs every training step
/// beside another thread passes these instead.
/// </summary>
public static class Held
{
    public static readonly Scalar One = 1.ToScalar();

    /// <summary>The exponent of <see cref="Squared"/>.</summary>
    public static readonly Scalar Two = 2.ToScalar();

    /// <summary>a + b without a temporary Scalar (tensor − tensor takes none in TorchSharp 0.107).</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary>
    /// x² element-wise. TorchSharp's <c>square()</c> is <c>pow(2)</c> with a temporary Scalar: a two-worker
    /// pretrain crashed in it ("Unknown scalar type" in pow_Tensor_Scalar) when a GC freed that Scalar mid-call.
    /// </summary>
    public static Tensor Squared(this Tensor x) => x.pow(Two);
}

/// <summary>
/// Scalars made for one block of code and disposed with it, for tensor arithmetic with constants off the
/// model path (masking, augmentation) that runs beside other threads:
/// <c>using var s = new HeldScalars(); x.mul(s[2]).add(s[0.5], Held.One)</c>. Note that <c>add</c>/<c>+</c>
/// without an explicit alpha make their own temporary Scalar; pass <see cref="Held.One"/>.
/// </summary>
public sealed class HeldScalars : IDisposable
{
    readonly List<Scalar> made = [];

    public Scalar this[double value]
    {
        get
        {
            var scalar = value.ToScalar();
            made.Add(scalar);
            return scalar;
        }
    }

    /// <summary>An integer Scalar (integer tensors stay integer; a double Scalar would promote them to float).</summary>
    public Scalar Int(long value)
    {
        var scalar = value.ToScalar();
        made.Add(scalar);
        return scalar;
    }

    public void Dispose()
    {
        foreach (var scalar in made) scalar.Dispose();
        made.Clear();
    }
}
