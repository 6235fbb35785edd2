using Maskwork.Abstractions;
using Maskwork.Backend.Nn;
using Maskwork.Backend.Objectives;
using Maskwork.Backend.Training;
using Maskwork.Plugins.Image.Recipes;
using static TorchSharp.torch;

namespace Maskwork.Teachers.Tests;

public class FrozenTeacherTests
{
    static readonly TransformerShape Small = new(32, 2, 4);
    static readonly BuildContext Context = new(CPU, new DataSpec("fashion-mnist", ""));

    static ImageTeacherRecipe MaskAlign() => new("image/maskalign", "", new ImageTeacherOptions { Teacher = "", MaskRatio = 0.7, VisibleWeight = 1 });

    static ImageTeacherOptions Student(string teacher) => new()
    {
        Teacher = teacher, EncoderDim = 16, EncoderDepth = 2, EncoderHeads = 2, MaskRatio = 0.7, VisibleWeight = 1,
    };

    /// <summary>Random 28×28 grey images (the frozen-teacher test needs shapes, not content).</summary>
    static List<Sample> Images(int count)
    {
        var rng = new Random(3);
        return Enumerable.Range(0, count).Select(i =>
            new Sample(Enumerable.Range(0, 28 * 28).Select(_ => (float)rng.NextDouble()).ToArray(), [1, 28, 28], i % 10, $"img#{i}")).ToList();
    }

    static string Refusal(string teacher, ImageTeacherOptions? options = null) =>
        Assert.Throws<TeacherException>(() => MaskAlign().Build(options ?? Student(teacher), Context)).Message;

    [Fact]
    public void A_frozen_teacher_loads_with_a_projection_gets_no_gradient_and_never_changes()
    {
        using var dir = new TempDir();
        string run = Fixtures.TeacherRun(dir["mae"], "image/mae", Small);
        var parts = MaskAlign().Build(Student(run), Context); // student 16-d, teacher 32-d: a projection maps the widths
        var objective = (FeatureTargetObjective)parts.Objective;
        var teacher = Assert.IsType<FrozenTeacher>(objective.Teacher);
        Assert.Equal(32, teacher.Dim);
        var (_, saved) = Checkpoint.Load(Path.Combine(run, "checkpoints", "last.ckpt"));
        foreach (var (n, t) in teacher.Encoder.state_dict()) Assert.True(Fixtures.Same(t, saved["model.encoder." + n]), $"{n} not loaded");

        var before = Fixtures.Snapshot(teacher.Encoder);
        var studentBefore = Fixtures.Snapshot((LayeredVitEncoder)parts.Encoder);
        var options = new TrainOptions { Steps = 3, Batch = 8, BaseLr = 1e-2, WarmupSteps = 1, CheckpointEvery = 0, Workers = 1 };
        using var trainer = new Trainer(new TrainerSetup("image/maskalign", parts, options, 1, CPU, ScalarType.Float32), new Maskwork.Backend.Data.SampleSet(Images(24)));
        trainer.Run(3, CancellationToken.None);
        Assert.All(teacher.Encoder.parameters(), p => { Assert.False(p.requires_grad); Assert.True(p.grad is null); });
        foreach (var (n, t) in teacher.Encoder.state_dict()) Assert.True(Fixtures.Same(t, before[n]), $"frozen {n} changed");
        Assert.Contains(((LayeredVitEncoder)parts.Encoder).state_dict(), kv => !Fixtures.Same(kv.Value, studentBefore[kv.Key])); // the student trains
    }

    [Fact]
    public void An_incompatible_teacher_run_is_refused_naming_the_mismatch()
    {
        using var dir = new TempDir();
        Assert.Contains("recipe family mismatch", Refusal(Fixtures.TeacherRun(dir["points"], "points/point-mae", Small)));
        Assert.Contains("tokenizer mismatch: the teacher's model.patch is 4, the student's 7",
            Refusal(Fixtures.TeacherRun(dir["patch4"], "image/mae", Small, patch: 4, tokenDim: 16)));
        Assert.Contains("shape mismatch at encoder.embed.weight",
            Refusal(Fixtures.TeacherRun(dir["shapes"], "image/mae", Small, configShape: new TransformerShape(64, 2, 4))));
        Assert.Contains("mean [0.5]", Refusal(Fixtures.TeacherRun(dir["mean"], "image/mae", Small, edit: m => m["mean"] = new[] { 0.5f })));

        string good = Fixtures.TeacherRun(dir["good"], "image/mae", Small, step: 20);
        Assert.Contains("step-7.ckpt not found; the run has last.ckpt, step-20.ckpt", Refusal(good + "@7"));
        Assert.IsType<FrozenTeacher>(((FeatureTargetObjective)MaskAlign().Build(Student(good + "@20"), Context).Objective).Teacher);
        Assert.Contains("not found", Refusal(dir["nowhere"]));

        var ckpt = Path.Combine(good, "checkpoints", "last.ckpt");
        var bytes = File.ReadAllBytes(ckpt);
        bytes[bytes.Length / 2] ^= 0x5a;
        File.WriteAllBytes(ckpt, bytes);
        Assert.Contains("checksum mismatch", Refusal(good));

        // self-distillation needs the teacher's own shape
        var selfDistill = Student(good + "@20") with { InitFromTeacher = true, PixelWeight = 1 };
        Assert.Contains("init_from_teacher needs the student's encoder shape", Refusal(good + "@20", selfDistill));
    }

    [Fact]
    public void A_resume_refuses_a_teacher_that_changed_since_the_run_began()
    {
        using var dir = new TempDir();
        string run = Fixtures.TeacherRun(dir["mae"], "image/mae", Small);
        var options = new TrainOptions { Steps = 2, Batch = 8, BaseLr = 1e-2, WarmupSteps = 1, CheckpointEvery = 0, Workers = 1 };
        Trainer Make() => new(new TrainerSetup("image/maskalign", MaskAlign().Build(Student(run), Context), options, 1, CPU, ScalarType.Float32),
            new Maskwork.Backend.Data.SampleSet(Images(16)));
        using (var first = Make())
        {
            first.Run(1, CancellationToken.None);
            first.Save(dir["student.ckpt"], 0);
        }
        using (var same = Make()) same.Load(dir["student.ckpt"]); // the same teacher: fine

        manual_seed(12);
        var other = new LayeredVitEncoder(49, Small).state_dict().Select(kv => ("model.encoder." + kv.Key, kv.Value)).ToList();
        Checkpoint.Save(Path.Combine(run, "checkpoints", "last.ckpt"), new CheckpointState { Step = 40, Recipe = "image/mae" }, other);
        using var changed = Make();
        var e = Assert.Throws<CheckpointException>(() => changed.Load(dir["student.ckpt"]));
        Assert.Contains("changed since this run began", e.Message);
    }

    [Fact]
    public void Teacher_specs_parse_run_and_step()
    {
        Assert.Equal(new TeacherSource("runs/mae", 1000), TeacherSource.Parse("runs/mae@1000"));
        Assert.Equal(new TeacherSource("runs/mae", null), TeacherSource.Parse("runs/mae"));
        Assert.EndsWith(Path.Combine("checkpoints", "step-1000.ckpt"), TeacherSource.Parse("runs/mae@1000").CheckpointPath);
        Assert.Contains("not a step number", Assert.Throws<TeacherException>(() => TeacherSource.Parse("runs/mae@last")).Message);
        Assert.Contains("model.teacher=RUN_DIR", Assert.Throws<TeacherException>(() => TeacherSource.Parse("")).Message);
    }
}
