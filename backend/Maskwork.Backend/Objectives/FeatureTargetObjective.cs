using System.Diagnostics;
using Maskwork.Abstractions;
using Maskwork.Backend.Nn;
using Maskwork.Backend.Training;
using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;
using static TorchSharp.torch;

namespace Maskwork.Backend.Objectives;

/// <summary>
/// What a <see cref="FeatureTargetObjective"/> regresses and how: the teacher and its targets, the loss, and the
/// weights of its three terms — latent prediction of the masked tokens (data2vec, JEPA; needs a
/// <see cref="Predictor"/>), alignment of the visible tokens (MaskAlign, MR-MAE's mimic, DMAE), and MAE's pixel loss
/// on the masked tokens (<see cref="Pixel"/>; MR-MAE, DMAE, self-distillation).
/// </summary>
public sealed record FeatureObjectiveSetup(FeatureTeacher Teacher, int StudentDim, TargetSpec Target, FeatureLoss Loss)
{
    /// <summary>Weight of the masked-token latent prediction (0: off).</summary>
    public double MaskedWeight { get; init; }
    /// <summary>Weight of the visible-token alignment (0: off).</summary>
    public double VisibleWeight { get; init; }
    /// <summary>Weight of <see cref="Pixel"/>'s loss (ignored without it).</summary>
    public double PixelWeight { get; init; } = 1;
    /// <summary>The predictor from visible latents to masked-token targets (a narrow transformer); needed when <see cref="MaskedWeight"/> &gt; 0.</summary>
    public TransformerShape? Predictor { get; init; }
    /// <summary>MAE's decoder and pixel loss, trained beside the feature terms.</summary>
    public MaeObjective? Pixel { get; init; }
    /// <summary>Watches the student's features for collapse (null: not watched).</summary>
    public CollapseGuard? Guard { get; init; }
}

/// <summary>
/// Regresses a teacher's features (DESIGN.md section 3) instead of, or beside, pixels: the teacher (an
/// <see cref="EmaTeacher"/> or a <see cref="FrozenTeacher"/>) encodes the full input without gradients, its chosen
/// layers become per-token targets (<see cref="FeatureTargets"/>), and the student's visible latents are scored
/// against the visible tokens' targets through a projection (the widths may differ) and/or, through a predictor that
/// puts [MASK] at the masked positions, against the masked tokens' targets. As an <see cref="ITrainingHooks"/> it
/// updates an EMA teacher after each step, reports the teacher's cost and the collapse guard, and checkpoints both.
/// </summary>
public sealed class FeatureTargetObjective : nn.Module, IObjective, ITrainingHooks
{
    readonly FeatureObjectiveSetup setup;
    readonly FeatureTeacher teacher; // not a submodule: the optimizer and the model's state never see it
    readonly LatentPredictor? predictor;
    readonly Dense? align;
    readonly MaeObjective? pixel;

    public FeatureTargetObjective(FeatureObjectiveSetup setup) : base(nameof(FeatureTargetObjective))
    {
        if (setup.MaskedWeight < 0 || setup.VisibleWeight < 0 || setup.PixelWeight < 0) throw new ArgumentException("loss weights must not be negative");
        if (setup.MaskedWeight == 0 && setup.VisibleWeight == 0 && (setup.Pixel is null || setup.PixelWeight == 0))
            throw new ArgumentException("every loss weight is 0: set a masked, visible or pixel weight");
        if (setup.MaskedWeight > 0 && setup.Predictor is null) throw new ArgumentException("a masked-token weight needs a predictor shape");
        setup.Target.Check(setup.Teacher.Encoder.Depth);
        this.setup = setup;
        teacher = setup.Teacher;
        if (setup.MaskedWeight > 0) predictor = new LatentPredictor(setup.StudentDim, setup.Predictor!, teacher.Dim);
        if (setup.VisibleWeight > 0) align = new Dense(setup.StudentDim, teacher.Dim);
        if (setup.PixelWeight > 0) pixel = setup.Pixel;
        RegisterComponents();
    }

    public FeatureTeacher Teacher => teacher;

    public CollapseGuard? Guard => setup.Guard;

    public ObjectiveResult Compute(TokenBatch tokens, MaskPlan plan, Encoded encoded)
    {
        if (plan.Dense is not null) throw new ArgumentException("feature targets need index mask plans (Visible/Masked), not a dense mask");
        var targets = teacher.Targets(tokens, setup.Target); // [B,N,Dt], no gradient
        var metrics = new Dictionary<string, Tensor>();
        Tensor? loss = null;
        void Add(string name, Tensor term, double weight)
        {
            metrics[name] = term.detach();
            using var w = weight.ToScalar();
            var weighted = weight == 1 ? term : term.mul(w);
            loss = loss is null ? weighted : loss.Plus(weighted);
        }
        if (predictor is not null && plan.MaskedCount > 0)
            Add("masked_feature_loss", FeatureTargets.Loss(predictor.Predict(encoded.Latent, plan, tokens.Layout), TokenOps.Gather(targets, plan.Masked), setup.Loss), setup.MaskedWeight);
        if (align is not null)
            Add("visible_feature_loss", FeatureTargets.Loss(align.forward(encoded.Latent), TokenOps.Gather(targets, plan.Visible), setup.Loss), setup.VisibleWeight);
        Tensor? reconstruction = null;
        if (pixel is not null)
        {
            var r = pixel.Compute(tokens, plan, encoded);
            Add("pixel_loss", r.Loss, setup.PixelWeight);
            reconstruction = r.Reconstruction;
        }
        setup.Guard?.Observe(encoded.Latent);
        return new ObjectiveResult(loss ?? zeros(1, device: tokens.Tokens.device).sum()) { Metrics = metrics, Reconstruction = reconstruction };
    }

    public HookNotes AfterStep(HookStep step)
    {
        double seconds = teacher.TakeForwardSeconds();
        if (teacher is EmaTeacher ema && step.Applied)
        {
            long t0 = Stopwatch.GetTimestamp();
            ema.Update(step.Step, step.TotalSteps);
            seconds += Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        double? std = null;
        if (setup.Guard is { } guard)
        {
            double m = guard.EndStep(step.Step);
            std = double.IsNaN(m) ? null : m;
        }
        return new HookNotes { TeacherSeconds = seconds, FeatureStd = std, CollapseWarning = setup.Guard?.Warning };
    }

    public IEnumerable<(string Name, Tensor Value)> CheckpointTensors()
    {
        foreach (var t in teacher.CheckpointTensors()) yield return t;
        if (setup.Guard is { } guard) yield return guard.CheckpointTensor;
    }

    public void Restored(string checkpointPath) => teacher.Restored(checkpointPath);
}

/// <summary>
/// A narrow transformer from the visible latents to the masked tokens' targets (JEPA's predictor, data2vec 2.0's
/// light decoder): project to its width, put a learned [MASK] at every masked position, add fixed positions, run the
/// blocks and read out the masked tokens at the teacher's width.
/// </summary>
public sealed class LatentPredictor : nn.Module
{
    readonly Dense embed, head;
    readonly Parameter maskToken;
    readonly Transformer blocks;
    readonly PositionTable positions;

    public LatentPredictor(int studentDim, TransformerShape shape, int targetDim) : base(nameof(LatentPredictor))
    {
        embed = new Dense(studentDim, shape.Dim);
        maskToken = nn.Parameter(zeros(1, 1, shape.Dim));
        nn.init.normal_(maskToken, 0, 0.02);
        blocks = new Transformer(shape.Dim, shape.Depth, shape.Heads, shape.MlpRatio);
        head = new Dense(shape.Dim, targetDim);
        positions = new PositionTable(shape.Dim);
        RegisterComponents();
    }

    /// <summary>Predictions [B,Nm,Dt] for the masked tokens of <paramref name="plan"/> from the visible latents [B,Nv,Ds].</summary>
    public Tensor Predict(Tensor latent, MaskPlan plan, TokenLayout layout)
    {
        var visible = embed.forward(latent);
        var masks = maskToken.to_type(visible.dtype).expand(visible.shape[0], plan.MaskedCount, visible.shape[2]);
        var x = TokenOps.Unshuffle(visible, masks, plan.Visible, plan.Masked).Plus(positions.For(layout, visible.device));
        var features = blocks.forward(x);
        return head.forward(TokenOps.Gather(features, plan.Masked));
    }
}
