using Maskwork.Backend.Objectives;
using Maskwork.Backend.Training;
using static TorchSharp.torch;

namespace Maskwork.Teachers.Tests;

public class EmaTests
{
    [Fact]
    public void Update_equals_the_formula_on_a_tiny_model()
    {
        manual_seed(1);
        var shape = new Maskwork.Backend.Nn.TransformerShape(8, 1, 2);
        var student = new LayeredVitEncoder(4, shape);
        var ema = new EmaTeacher(student, new LayeredVitEncoder(4, shape), new EmaSchedule(0.9, 0.99));
        foreach (var (n, t) in ema.Encoder.state_dict()) Assert.True(Fixtures.Same(t, student.state_dict()[n]), $"{n}: the EMA starts as a copy");

        using (no_grad()) foreach (var (_, p) in student.named_parameters()) p.add_(randn(p.shape)); // the student moves away
        var before = Fixtures.Snapshot(ema.Encoder);
        var studentNow = Fixtures.Snapshot(student);
        const double m = 0.75;
        ema.Update(m);
        foreach (var (n, t) in ema.Encoder.state_dict())
        {
            var expected = before[n].to_type(ScalarType.Float64) * m + studentNow[n].to_type(ScalarType.Float64) * (1 - m);
            double err = (t.to_type(ScalarType.Float64) - expected).abs().max().item<double>();
            Assert.True(err < 1e-6, $"{n}: |θt − (m·θt + (1−m)·θs)| = {err}");
        }
        Assert.False(Fixtures.Same(ema.Encoder.state_dict().First().Value, before.First().Value), "the update must move the teacher");
    }

    [Fact]
    public void Momentum_schedules_start_and_end_where_asked()
    {
        var cosine = new EmaSchedule(0.99, 1.0, "cosine");
        Assert.Equal(0.99, cosine.At(1, 101), 12);
        Assert.Equal(1.0, cosine.At(101, 101), 12);
        Assert.Equal(0.995, cosine.At(51, 101), 12); // halfway: the mean of start and end
        var linear = new EmaSchedule(0.9, 1.0, "linear");
        Assert.Equal(0.925, linear.At(26, 101), 12);
        Assert.Throws<ArgumentException>(() => new EmaSchedule(0.9, 1.2).Checked());
        Assert.Throws<ArgumentException>(() => new EmaSchedule(0.9, 1.0, "step").Checked());
    }

    [Fact]
    public void Teacher_gets_no_gradient_and_changes_only_by_the_ema_after_each_step()
    {
        var data = Fixtures.Sequences(32);
        manual_seed(5);
        var parts = Fixtures.Data2VecParts(new EmaSchedule(0.8, 0.8, "constant"));
        var objective = (FeatureTargetObjective)parts.Objective;
        var teacher = (EmaTeacher)objective.Teacher;
        using var trainer = Fixtures.NewTrainer(parts, 3, data);
        Assert.DoesNotContain(trainer.Model.named_parameters(), p => p.name.Contains("ema", StringComparison.OrdinalIgnoreCase));
        long teacherCount = teacher.Encoder.parameters().Sum(p => p.numel());
        long studentCount = ((LayeredVitEncoder)parts.Encoder).parameters().Sum(p => p.numel());
        Assert.Equal(trainer.Model.parameters().Sum(p => p.numel()), trainer.Optimizer.Count);
        Assert.Equal(studentCount, teacherCount);
        Assert.True(trainer.Optimizer.Count > studentCount); // the predictor trains too, the teacher not

        for (int step = 1; step <= 3; step++)
        {
            var before = Fixtures.Snapshot(teacher.Encoder);
            StepReport? report = null;
            trainer.Run(step, CancellationToken.None, r => report = r);
            Assert.All(teacher.Encoder.parameters(), p => { Assert.False(p.requires_grad); Assert.True(p.grad is null); });
            var student = ((LayeredVitEncoder)parts.Encoder).state_dict();
            foreach (var (n, t) in teacher.Encoder.state_dict())
            {
                var expected = before[n] * 0.8 + student[n].detach() * (1 - 0.8);
                Assert.True(t.allclose(expected, rtol: 0, atol: 1e-6), $"step {step}, {n}: the teacher moved other than by the EMA");
            }
            Assert.True(report!.Timings!.Teacher > 0, "the teacher's cost is in the step breakdown");
            Assert.True(report.Timings.Teacher <= report.Seconds);
        }
    }

    [Fact]
    public void Ema_teacher_is_checkpointed_and_restored_bit_for_bit_and_a_resume_retraces_the_run()
    {
        using var dir = new TempDir();
        var data = Fixtures.Sequences(40);
        manual_seed(5);
        var straightParts = Fixtures.Data2VecParts();
        using var straight = Fixtures.NewTrainer(straightParts, 8, data);
        straight.Run(8, CancellationToken.None);

        string path = dir["half.ckpt"];
        Dictionary<string, Tensor> savedTeacher;
        manual_seed(5);
        var firstParts = Fixtures.Data2VecParts();
        using (var first = Fixtures.NewTrainer(firstParts, 8, data))
        {
            first.Run(4, CancellationToken.None);
            first.Save(path, 0);
            savedTeacher = Fixtures.Snapshot(((FeatureTargetObjective)firstParts.Objective).Teacher.Encoder);
        }
        var (_, tensors) = Checkpoint.Load(path);
        Assert.Contains(tensors.Keys, k => k.StartsWith("hooks.ema_teacher.", StringComparison.Ordinal));

        manual_seed(99); // another init: everything must come from the checkpoint
        var resumedParts = Fixtures.Data2VecParts();
        using var resumed = Fixtures.NewTrainer(resumedParts, 8, data);
        resumed.Load(path);
        var resumedTeacher = ((FeatureTargetObjective)resumedParts.Objective).Teacher.Encoder;
        foreach (var (n, t) in resumedTeacher.state_dict()) Assert.True(Fixtures.Same(t, savedTeacher[n]), $"{n} not restored bit for bit");

        resumed.Run(8, CancellationToken.None);
        var a = ((FeatureTargetObjective)straightParts.Objective).Teacher.Encoder.state_dict();
        foreach (var (n, t) in resumedTeacher.state_dict())
            Assert.True(t.allclose(a[n], rtol: 0, atol: 1e-6), $"{n}: the resumed run's teacher differs from the uninterrupted run's");
        Assert.True(straight.Optimizer.Parameters.allclose(resumed.Optimizer.Parameters, rtol: 0, atol: 1e-6));
    }
}
