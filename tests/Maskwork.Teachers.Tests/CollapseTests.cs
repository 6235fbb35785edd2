using Maskwork.Backend.Objectives;
using Maskwork.Backend.Training;
using static TorchSharp.torch;

namespace Maskwork.Teachers.Tests;

public class CollapseTests
{
    [Fact]
    public void Guard_measures_spread_and_fires_after_patience_steps_of_constant_features()
    {
        manual_seed(2);
        Assert.InRange(CollapseGuard.Measure(randn(4, 16, 64)), 0.9, 1.1); // isotropic: ≈ 1
        Assert.Equal(0, CollapseGuard.Measure(ones(4, 16, 64) * 3), 6);

        var guard = new CollapseGuard(threshold: 0.05, patience: 3);
        for (int step = 1; step <= 2; step++) { guard.Observe(ones(2, 5, 8)); guard.EndStep(step); }
        Assert.Null(guard.Warning);
        guard.Observe(randn(2, 5, 8)); guard.EndStep(3); // one healthy step resets the count
        Assert.Equal(0, guard.LowSteps);
        for (int step = 4; step <= 6; step++) { guard.Observe(ones(2, 5, 8)); guard.EndStep(step); }
        Assert.Equal(6, guard.FiredAt);
        Assert.Contains("collapse", guard.Warning);
        guard.Observe(randn(2, 5, 8)); guard.EndStep(7);
        Assert.NotNull(guard.Warning); // it stays said
    }

    static (StepReport? Last, string? Warning) Train(bool constant)
    {
        var data = Fixtures.Sequences(32);
        manual_seed(5);
        var parts = Fixtures.Data2VecParts(guard: new CollapseGuard(0.05, patience: 4));
        if (constant)
        {
            // The final norm's scale at zero: every token maps to its bias, whatever the input — a collapsed encoder.
            using var _ = no_grad();
            foreach (var (n, p) in ((LayeredVitEncoder)parts.Encoder).named_parameters())
                if (n.StartsWith("transformer.norm.", StringComparison.Ordinal)) p.zero_().add_(n.EndsWith("bias") ? 0.5 : 0);
        }
        using var trainer = Fixtures.NewTrainer(parts, 5, data, lr: constant ? 0 : 1e-3);
        StepReport? last = null;
        trainer.Run(5, CancellationToken.None, r => last = r);
        return (last, trainer.CollapseWarning);
    }

    [Fact]
    public void Collapse_warning_fires_on_a_constant_encoder_and_not_on_a_healthy_one()
    {
        var (collapsed, warning) = Train(constant: true);
        Assert.NotNull(warning);
        Assert.Equal(warning, collapsed!.CollapseWarning);
        Assert.True(collapsed.FeatureStd < 1e-3, $"feature std {collapsed.FeatureStd}");

        var (healthy, none) = Train(constant: false);
        Assert.Null(none);
        Assert.True(healthy!.FeatureStd > 0.05, $"feature std {healthy.FeatureStd}");
    }
}
