using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using static TorchSharp.torch;

namespace Maskwork.Backend.Training;

/// <summary>A teacher that does not fit the student (another recipe family, another tokenizer, a missing or broken checkpoint); the message names the mismatch.</summary>
public sealed class TeacherException(string teacher, string reason) : ArgumentException($"teacher {teacher}: {reason}")
{
    public string Teacher { get; } = teacher;
    public string Reason { get; } = reason;
}

/// <summary>
/// Where a frozen teacher comes from: <c>RUN_DIR</c> (its <c>checkpoints/last.ckpt</c>) or <c>RUN_DIR@STEP</c>
/// (<c>checkpoints/step-STEP.ckpt</c>), as <c>--set model.teacher=…</c> gives it.
/// </summary>
public sealed record TeacherSource(string Run, long? Step)
{
    public static TeacherSource Parse(string spec)
    {
        if (string.IsNullOrWhiteSpace(spec)) throw new TeacherException("(none)", "no run given: set model.teacher=RUN_DIR or RUN_DIR@STEP");
        int at = spec.LastIndexOf('@');
        if (at > 0 && long.TryParse(spec[(at + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out long step))
            return new TeacherSource(spec[..at], step);
        if (at > 0 && at < spec.Length - 1 && !Directory.Exists(spec))
            throw new TeacherException(spec, $"'{spec[(at + 1)..]}' after @ is not a step number (RUN_DIR@STEP, e.g. runs/mae@1000)");
        return new TeacherSource(spec, null);
    }

    /// <summary>The checkpoint file this source names.</summary>
    public string CheckpointPath => Path.Combine(Run, "checkpoints", Step is { } s ? $"step-{s}.ckpt" : "last.ckpt");

    public override string ToString() => Step is { } s ? $"{Run}@{s}" : Run;
}

/// <summary>What a frozen teacher's run says about itself: its recipe (from the checkpoint) and its resolved model options (config.json).</summary>
public sealed record TeacherRun(TeacherSource Source, string Recipe, long Step, JsonElement Model)
{
    /// <summary>The recipe's family: the part before '/' (image for image/mae).</summary>
    public string Family => Recipe.Split('/')[0];
}

/// <summary>
/// An encoder loaded from another run's checkpoint and never changed: MaskAlign's, MR-MAE's and DMAE's teacher, or
/// an earlier checkpoint of the same model (self-distillation). Loading checks the file's SHA-256, the recipe family,
/// the tokenizer (through the recipe's <c>build</c>) and every tensor's shape, and refuses a misfit naming it. The
/// checkpoint of the run it teaches records the teacher's checksum, so a resume refuses a teacher that changed.
/// </summary>
public sealed class FrozenTeacher : FeatureTeacher
{
    readonly Tensor checksum;       // SHA-256 of the teacher's tensors, as loaded
    readonly Tensor savedChecksum;  // restored from a checkpoint of the student's run

    FrozenTeacher(LayeredVitEncoder encoder, TeacherRun run, byte[] sha) : base(encoder)
    {
        Run = run;
        Sha256 = Convert.ToHexStringLower(sha);
        checksum = tensor(sha, dtype: ScalarType.Byte);
        savedChecksum = checksum.clone();
    }

    public TeacherRun Run { get; }

    /// <summary>Hex SHA-256 over the teacher encoder's tensors (names, shapes and bytes).</summary>
    public string Sha256 { get; }

    /// <summary>
    /// Loads the teacher named by <paramref name="spec"/>. <paramref name="family"/> is the recipe family it must come
    /// from (e.g. image); <paramref name="build"/> makes the encoder from the teacher run's model options and throws an
    /// <see cref="ArgumentException"/> when they do not fit the student (e.g. another patch size).
    /// </summary>
    public static FrozenTeacher Load(string spec, string family, Func<TeacherRun, LayeredVitEncoder> build)
    {
        var source = TeacherSource.Parse(spec);
        string name = source.ToString();
        if (!Directory.Exists(source.Run)) throw new TeacherException(name, $"run folder {source.Run} not found (give a finished run's folder, e.g. runs/<name>)");
        string path = source.CheckpointPath;
        if (!File.Exists(path))
        {
            var steps = Directory.Exists(Path.Combine(source.Run, "checkpoints"))
                ? Directory.GetFiles(Path.Combine(source.Run, "checkpoints"), "*.ckpt").Select(Path.GetFileName).Order().ToList() : [];
            throw new TeacherException(name, $"{path} not found; the run has {(steps.Count == 0 ? "no checkpoints" : string.Join(", ", steps))}");
        }
        string config = Path.Combine(source.Run, "config.json");
        if (!File.Exists(config)) throw new TeacherException(name, $"{config} not found: not a maskwork run folder");
        JsonElement model;
        string configRecipe;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(config));
            configRecipe = doc.RootElement.GetProperty("recipe").GetString() ?? "";
            model = doc.RootElement.GetProperty("model").Clone();
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new TeacherException(name, $"{config} is not a run configuration ({e.Message})");
        }

        CheckpointState state;
        Dictionary<string, Tensor> tensors;
        try { (state, tensors) = Checkpoint.Load(path); }
        catch (CheckpointException e) { throw new TeacherException(name, e.Message); }
        try
        {
            if (state.Recipe != configRecipe)
                throw new TeacherException(name, $"{path} was written by recipe {state.Recipe} but {config} says {configRecipe}");
            var run = new TeacherRun(source, state.Recipe, state.Step, model);
            if (run.Family != family)
                throw new TeacherException(name, $"recipe family mismatch: the teacher was trained by {state.Recipe} (family {run.Family}), this recipe needs a {family}/* teacher");
            LayeredVitEncoder encoder;
            try { encoder = build(run); }
            catch (ArgumentException e) when (e is not TeacherException) { throw new TeacherException(name, e.Message); }
            using (no_grad())
            {
                var missing = new List<string>();
                foreach (var (n, target) in encoder.state_dict())
                {
                    if (!tensors.TryGetValue("model.encoder." + n, out var src)) { missing.Add(n); continue; }
                    if (!src.shape.SequenceEqual(target.shape))
                        throw new TeacherException(name, $"shape mismatch at encoder.{n}: the checkpoint has [{string.Join(',', src.shape)}], the teacher built from its config [{string.Join(',', target.shape)}]");
                    target.copy_(src);
                }
                if (missing.Count > 0)
                    throw new TeacherException(name, $"{state.Recipe}'s checkpoint has no encoder tensors {string.Join(", ", missing.Take(3))}{(missing.Count > 3 ? "…" : "")}: its encoder is not a ViT encoder");
            }
            return new FrozenTeacher(encoder, run, Checksum(encoder));
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    /// <summary>SHA-256 over an encoder's tensors: each name, shape and raw bytes in state order.</summary>
    public static byte[] Checksum(TorchSharp.torch.nn.Module encoder)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (n, t) in encoder.state_dict())
        {
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes($"{n}:{string.Join(',', t.shape)};"));
            using var c = t.detach().cpu().contiguous();
            sha.AppendData(c.bytes);
        }
        return sha.GetHashAndReset();
    }

    public override IEnumerable<(string Name, Tensor Value)> CheckpointTensors()
    {
        // Saved: the checksum as loaded; on load the saved one lands in savedChecksum and is compared below.
        yield return ("frozen_teacher.sha256", savedChecksum);
    }

    public override void Restored(string checkpointPath)
    {
        var savedBytes = savedChecksum.data<byte>().ToArray();
        if (!savedBytes.SequenceEqual(checksum.data<byte>().ToArray()))
        {
            string saved = Convert.ToHexStringLower(savedBytes);
            throw new CheckpointException(checkpointPath, $"the teacher {Run.Source} changed since this run began (its encoder's SHA-256 was {saved[..12]}…, now {Sha256[..12]}…); " +
                $"resume with the same teacher checkpoint (model.teacher=RUN_DIR@STEP names one exactly)");
        }
    }
}
