using System.Text.Json;
using Maskwork.Abstractions;
using Maskwork.Backend.Masking;
using Maskwork.Backend.Nn;
using Maskwork.Backend.Objectives;
using Maskwork.Backend.Training;
using static TorchSharp.torch;

namespace Maskwork.Teachers.Tests;

static class Fixtures
{
    public const int Tokens = Maskwork.Tests.Shared.Sequences.Tokens, Dim = Maskwork.Tests.Shared.Sequences.Dim;
    public static readonly TransformerShape Student = new(32, 2, 4);

    public static List<Sample> Sequences(int count, int seed = 0) => Maskwork.Tests.Shared.Sequences.Samples(count, seed, "seq");

    /// <summary>A data2vec-like composition on sequences: EMA teacher, top-2 targets, masked-token prediction.</summary>
    public static ModelParts Data2VecParts(EmaSchedule? schedule = null, CollapseGuard? guard = null)
    {
        var student = new LayeredVitEncoder(Dim, Student);
        var teacher = new EmaTeacher(student, new LayeredVitEncoder(Dim, Student), schedule ?? new EmaSchedule(0.9, 0.99, "linear"));
        var objective = new FeatureTargetObjective(new FeatureObjectiveSetup(teacher, Student.Dim, new TargetSpec(TopK: 2, Norm: TargetNorm.Instance), FeatureLoss.SmoothL1)
        {
            MaskedWeight = 1, Predictor = new TransformerShape(16, 1, 2), Guard = guard,
        });
        return new ModelParts(new SequenceTokenizer(Tokens, Dim), new RandomMasker(0.5), student, objective);
    }

    public static TrainOptions Train(int steps, double lr = 1e-2) => new()
    {
        Steps = steps, Batch = 8, BaseLr = lr, WarmupSteps = 2, CheckpointEvery = 0, LogEvery = 1, Workers = 1,
    };

    public static Trainer NewTrainer(ModelParts parts, int steps, List<Sample> data, long seed = 5, double lr = 1e-2) =>
        new(new TrainerSetup("test/data2vec", parts, Train(steps, lr), seed, CPU, ScalarType.Float32), new Maskwork.Backend.Data.SampleSet(data));

    public static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    public static Dictionary<string, Tensor> Snapshot(TorchSharp.torch.nn.Module m) =>
        m.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());

    /// <summary>
    /// A run folder as <c>maskwork pretrain</c> leaves it (config.json + checkpoints/last.ckpt and step-N.ckpt) holding
    /// an image ViT encoder of <paramref name="shape"/>, written by <paramref name="recipe"/> with the given model options.
    /// </summary>
    public static string TeacherRun(string dir, string recipe, TransformerShape shape, int patch = 7, int tokenDim = 49, long step = 20,
        TransformerShape? configShape = null, Action<Dictionary<string, object>>? edit = null)
    {
        Directory.CreateDirectory(Path.Combine(dir, "checkpoints"));
        var c = configShape ?? shape;
        var model = new Dictionary<string, object>
        {
            ["size"] = 28, ["channels"] = 1, ["patch"] = patch, ["mean"] = new[] { 0.2860f }, ["std"] = new[] { 0.3530f },
            ["encoder_dim"] = c.Dim, ["encoder_depth"] = c.Depth, ["encoder_heads"] = c.Heads,
        };
        edit?.Invoke(model);
        File.WriteAllText(Path.Combine(dir, "config.json"), JsonSerializer.Serialize(new { recipe, seed = 0, model }));
        manual_seed(11);
        var encoder = new LayeredVitEncoder(tokenDim, shape);
        var state = new CheckpointState { Step = step, Recipe = recipe };
        var tensors = encoder.state_dict().Select(kv => ("model.encoder." + kv.Key, kv.Value)).ToList();
        Checkpoint.Save(Path.Combine(dir, "checkpoints", $"step-{step}.ckpt"), state, tensors);
        Checkpoint.Save(Path.Combine(dir, "checkpoints", "last.ckpt"), state, tensors);
        return dir;
    }
}

public sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("mw-teachers-").FullName;
    public string this[string name] => System.IO.Path.Combine(Path, name);
    public void Dispose() { try { Directory.Delete(Path, true); } catch (IOException) { } }
}
