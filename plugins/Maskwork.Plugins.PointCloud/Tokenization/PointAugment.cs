using static TorchSharp.torch;

namespace Maskwork.Plugins.PointCloud.Tokenization;

/// <summary>
/// Training-time augmentation of whole clouds [B,N,3] (tensor ops): a random rotation about the up
/// axis, a random per-axis scale, and clipped Gaussian jitter. Every draw comes from the given
/// generator (or torch's global one, which the trainer seeds per step), so runs repeat.
/// </summary>
/// <param name="UpAxis">0 = x, 1 = y, 2 = z: the axis rotations turn about.</param>
/// <param name="RotateDegrees">Rotate by a uniform angle in ±this many degrees (180: any angle; 0 disables).</param>
/// <param name="ScaleMin">Lower bound of the per-axis scale (1 with <see cref="ScaleMax"/> 1 disables).</param>
/// <param name="ScaleMax">Upper bound of the per-axis scale.</param>
/// <param name="JitterSigma">Standard deviation of per-point noise; 0 disables.</param>
/// <param name="JitterClip">Noise is clipped to ±this.</param>
public sealed record PointAugment(int UpAxis = 2, double RotateDegrees = 180, double ScaleMin = 0.8, double ScaleMax = 1.25, double JitterSigma = 0.01, double JitterClip = 0.05)
{
    /// <summary>Rotation matrices [B,3,3] about the up axis by <paramref name="angles"/> [B].</summary>
    public Tensor RotationAbout(Tensor angles)
    {
        if (UpAxis is < 0 or > 2) throw new ArgumentOutOfRangeException(nameof(UpAxis), UpAxis, "up axis must be 0, 1 or 2");
        long b = angles.shape[0];
        var c = angles.cos();
        var s = angles.sin();
        var zero = zeros_like(c);
        var one = ones_like(c);
        // The two axes that turn, in right-handed order after the up axis.
        int a1 = (UpAxis + 1) % 3, a2 = (UpAxis + 2) % 3;
        var entries = new Tensor[9];
        for (int i = 0; i < 9; i++) entries[i] = zero;
        entries[UpAxis * 3 + UpAxis] = one;
        entries[a1 * 3 + a1] = c;
        entries[a1 * 3 + a2] = -s;
        entries[a2 * 3 + a1] = s;
        entries[a2 * 3 + a2] = c;
        return stack(entries, 1).view(b, 3, 3);
    }

    /// <summary>Applies the augmentation to <paramref name="points"/> [B,N,3].</summary>
    public Tensor Apply(Tensor points, Generator? generator = null)
    {
        long b = points.shape[0];
        var device = points.device;
        var x = points;
        if (RotateDegrees > 0)
        {
            var angles = (rand(b, generator: generator) * 2 - 1) * (RotateDegrees * Math.PI / 180);
            x = x.matmul(RotationAbout(angles).transpose(1, 2).to(device));
        }
        if (ScaleMax > ScaleMin || ScaleMin != 1)
        {
            var scale = rand(b, 1, 3, generator: generator) * (ScaleMax - ScaleMin) + ScaleMin;
            x = x * scale.to(device);
        }
        if (JitterSigma > 0)
        {
            var noise = (randn(points.shape, generator: generator) * JitterSigma).clamp(-JitterClip, JitterClip);
            x = x + noise.to(device);
        }
        return x;
    }
}
