using System.ComponentModel;
using System.Text.Json;
using Maskwork.Abstractions;
using Maskwork.Backend.Nn;
using Maskwork.Backend.Objectives;
using Maskwork.Backend.Tokenization;
using Maskwork.Backend.Training;

namespace Maskwork.Plugins.Image.Recipes;

/// <summary>
/// Options of the image recipes that regress a teacher's features (data2vec, JEPA, MaskAlign, MR-MAE, DMAE,
/// self-distillation): the image MAE options (tokenizer, student encoder, masker, and the pixel decoder when
/// <see cref="PixelWeight"/> &gt; 0) plus the teacher, its targets and the loss terms.
/// </summary>
public sealed record ImageTeacherOptions : ImageMaeOptions
{
    [Description("ema (an EMA copy of the student) or a run to load a frozen teacher from: RUN_DIR (its last checkpoint) or RUN_DIR@STEP")]
    public string Teacher { get; init; } = "ema";
    [Description("EMA momentum at the first step")]
    public double EmaStart { get; init; } = 0.996;
    [Description("EMA momentum at the last step")]
    public double EmaEnd { get; init; } = 1.0;
    [Description("how the EMA momentum moves from start to end: cosine, linear or constant")]
    public string EmaSchedule { get; init; } = "cosine";
    [Description("teacher layer giving the targets: 0 = its final output, n = block n (1-based), -n = n-th block from the end (ignored when target_top_k > 0)")]
    public int TargetLayer { get; init; }
    [Description("average the (normalised) outputs of the teacher's last K blocks (data2vec); 0 = one layer")]
    public int TargetTopK { get; init; }
    [Description("target normalisation: layer (per token), instance (per sample and channel over tokens) or none")]
    public string TargetNorm { get; init; } = "layer";
    [Description("feature loss: mse, smooth_l1 or cosine")]
    public string Loss { get; init; } = "mse";
    [Description("weight of the latent prediction of the masked tokens' targets (through the predictor)")]
    public double MaskedWeight { get; init; }
    [Description("weight of the alignment of the visible tokens with their targets (through a linear projection)")]
    public double VisibleWeight { get; init; }
    [Description("weight of MAE's pixel loss on the masked tokens (0: no pixel decoder)")]
    public double PixelWeight { get; init; }
    [Description("predictor width (masked-token latent prediction)")]
    public int PredictorDim { get; init; } = 64;
    [Description("predictor transformer blocks")]
    public int PredictorDepth { get; init; } = 2;
    [Description("predictor attention heads")]
    public int PredictorHeads { get; init; } = 4;
    [Description("start the student from the frozen teacher's weights (self-distillation further pretraining; needs the same encoder shape)")]
    public bool InitFromTeacher { get; init; }
    [Description("collapse guard: the feature-spread measure below which a step counts as collapsed")]
    public double CollapseStd { get; init; } = 0.05;
    [Description("collapse guard: consecutive collapsed steps before collapse_warning")]
    public int CollapseSteps { get; init; } = 100;
}

/// <summary>
/// The teacher recipes on images: one composition (a <see cref="LayeredVitEncoder"/> student, a teacher, a
/// <see cref="FeatureTargetObjective"/>), each recipe a set of defaults. Same step budget as image/mae.
/// </summary>
public sealed class ImageTeacherRecipe(string name, string description, ImageTeacherOptions defaults) : IRecipe
{
    public string Name { get; } = name;
    public string Description { get; } = description;
    public string DefaultData => "fashion-mnist";
    public Type OptionsType => typeof(ImageTeacherOptions);
    public object DefaultOptions { get; } = defaults;

    public TrainOptions Training => ImageMaeRecipe.CpuTraining;

    public IReadOnlyDictionary<string, string> DataOptions(object options) => ((ImageTeacherOptions)options).ReaderOptions();

    public ModelParts Build(object options, BuildContext context)
    {
        var o = (ImageTeacherOptions)options;
        var tokenizer = GridTokenizer.Image(o.Patch, o.Channels, o.Size, o.Mean, o.Std);
        var masker = o.Build();
        if (o.Masker == "guided") throw new ArgumentException($"{Name} does not predict per-patch losses: use masker=random, block or noise");
        var shape = new TransformerShape(o.EncoderDim, o.EncoderDepth, o.EncoderHeads);
        var student = new LayeredVitEncoder(tokenizer.TokenDim, shape);
        FeatureTeacher teacher;
        if (o.Teacher.Equals("ema", StringComparison.OrdinalIgnoreCase))
        {
            if (o.InitFromTeacher) throw new ArgumentException("init_from_teacher needs a frozen teacher run (model.teacher=RUN_DIR), not ema");
            teacher = new EmaTeacher(student, new LayeredVitEncoder(tokenizer.TokenDim, shape), new EmaSchedule(o.EmaStart, o.EmaEnd, o.EmaSchedule));
        }
        else
        {
            var frozen = FrozenTeacher.Load(o.Teacher, "image", run => TeacherEncoder(run, o, tokenizer.TokenDim));
            if (o.InitFromTeacher)
            {
                if (frozen.Encoder.Shape != shape)
                    throw new TeacherException(o.Teacher, $"init_from_teacher needs the student's encoder shape: the teacher is {Describe(frozen.Encoder.Shape)}, the student {Describe(shape)}");
                using var _ = TorchSharp.torch.no_grad();
                var source = frozen.Encoder.state_dict();
                foreach (var (n, t) in student.state_dict()) t.copy_(source[n]);
            }
            teacher = frozen;
        }
        teacher.To(context.Device);
        var pixel = o.PixelWeight > 0
            ? new MaeObjective(o.EncoderDim, tokenizer.TokenDim, new TransformerShape(o.DecoderDim, o.DecoderDepth, o.DecoderHeads), o.NormPix)
            : null;
        var objective = new FeatureTargetObjective(new FeatureObjectiveSetup(teacher, o.EncoderDim,
            new TargetSpec(o.TargetLayer, o.TargetTopK, FeatureTargets.ParseNorm(o.TargetNorm)), FeatureTargets.ParseLoss(o.Loss))
        {
            MaskedWeight = o.MaskedWeight, VisibleWeight = o.VisibleWeight, PixelWeight = o.PixelWeight,
            Predictor = o.MaskedWeight > 0 ? new TransformerShape(o.PredictorDim, o.PredictorDepth, o.PredictorHeads) : null,
            Pixel = pixel, Guard = new CollapseGuard(o.CollapseStd, o.CollapseSteps),
        });
        // Every term is a mean over the same number of tokens per image: slices of a batch may train on parallel workers.
        return new ModelParts(tokenizer, masker, student, objective) { Renderer = pixel is null ? null : new ImageRenderer(), IndependentSamples = true };
    }

    static string Describe(TransformerShape s) => $"{s.Dim}-d × {s.Depth} blocks × {s.Heads} heads";

    /// <summary>The frozen teacher's encoder, from its run's options; refuses a tokenizer that differs from the student's.</summary>
    static LayeredVitEncoder TeacherEncoder(TeacherRun run, ImageTeacherOptions student, int tokenDim)
    {
        var m = run.Model;
        int Int(string key) => m.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32()
            : throw new ArgumentException($"its config.json has no model.{key}: {run.Recipe} does not have an image ViT encoder");
        float[] Floats(string key) => m.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Array ? v.EnumerateArray().Select(e => e.GetSingle()).ToArray()
            : throw new ArgumentException($"its config.json has no model.{key}");
        void Same(string key, int theirs, int ours)
        {
            if (theirs != ours) throw new ArgumentException($"tokenizer mismatch: the teacher's model.{key} is {theirs}, the student's {ours} (set model.{key}={theirs} or train a teacher with {ours})");
        }
        Same("size", Int("size"), student.Size);
        Same("channels", Int("channels"), student.Channels);
        Same("patch", Int("patch"), student.Patch);
        if (!Floats("mean").SequenceEqual(student.Mean) || !Floats("std").SequenceEqual(student.Std))
            throw new ArgumentException($"tokenizer mismatch: the teacher normalises pixels with mean [{string.Join(", ", Floats("mean"))}] std [{string.Join(", ", Floats("std"))}], the student with mean [{string.Join(", ", student.Mean)}] std [{string.Join(", ", student.Std)}]");
        return new LayeredVitEncoder(tokenDim, new TransformerShape(Int("encoder_dim"), Int("encoder_depth"), Int("encoder_heads")));
    }
}
