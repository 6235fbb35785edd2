using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Maskwork.Backend.Training;

/// <summary>
/// Watches for representation collapse, the failure of EMA and feature-regression recipes: each step it measures the
/// per-dimension standard deviation of the student's features across all tokens of the batch, after scaling every
/// token to unit length, times √D (about 1 for features spread over all directions, 0 when every token maps to the
/// same vector) and averages it over dimensions. When that stays below <see cref="Threshold"/> for
/// <see cref="Patience"/> consecutive steps, <see cref="Warning"/> says so (<c>collapse_warning</c>); it stays set.
/// </summary>
public sealed class CollapseGuard(double threshold = 0.05, int patience = 100)
{
    readonly object gate = new();
    double sum;
    int count;
    // [consecutive low steps, fired step (0 = not fired)], in the checkpoint so a resume warns exactly as the run would.
    readonly Tensor state = zeros(2, dtype: ScalarType.Int64);

    public double Threshold { get; } = threshold > 0 ? threshold : throw new ArgumentException($"collapse threshold must be positive, not {threshold}");
    public int Patience { get; } = patience >= 1 ? patience : throw new ArgumentException($"collapse patience must be at least 1 step, not {patience}");

    /// <summary>The measure of the last finished step (NaN before one).</summary>
    public double Last { get; private set; } = double.NaN;

    /// <summary>The measure of features [.., D]: mean over dimensions of the std over tokens of the unit-length features, × √D.</summary>
    public static double Measure(Tensor features)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = features.detach().to_type(ScalarType.Float32);
        x = x.reshape(-1, x.shape[^1]);
        if (x.shape[0] < 2) return double.NaN;
        var unit = nn.functional.normalize(x, p: 2, dim: 1, eps: 1e-12);
        return unit.std(0, unbiased: false).mean().item<float>() * Math.Sqrt(x.shape[1]);
    }

    /// <summary>Adds one slice's features to the current step (thread-safe).</summary>
    public void Observe(Tensor features)
    {
        double m = Measure(features);
        if (double.IsNaN(m)) return;
        lock (gate) { sum += m; count++; }
    }

    /// <summary>Closes the step: its measure (the mean over the slices observed), the run of low steps and the warning.</summary>
    public double EndStep(long step)
    {
        double m;
        lock (gate)
        {
            m = count > 0 ? sum / count : double.NaN;
            sum = 0; count = 0;
        }
        Last = m;
        if (double.IsNaN(m)) return m;
        var s = state.data<long>();
        s[0] = m < Threshold ? s[0] + 1 : 0;
        if (s[0] >= Patience && s[1] == 0) s[1] = step;
        return m;
    }

    /// <summary>Consecutive steps below the threshold so far.</summary>
    public long LowSteps => state.data<long>()[0];

    /// <summary>The step at which the guard fired, or 0.</summary>
    public long FiredAt => state.data<long>()[1];

    public string? Warning => FiredAt == 0 ? null : string.Create(CultureInfo.InvariantCulture,
        $"feature collapse: the student's per-dimension feature std stayed below {Threshold} for {Patience} steps (by step {FiredAt}); lower the EMA momentum start or the learning rate, or add a pixel loss");

    /// <summary>The guard's state for the checkpoint.</summary>
    public (string Name, Tensor Value) CheckpointTensor => ("collapse_guard", state);
}
