using static TorchSharp.torch;

namespace Maskwork.Backend.Training;

/// <summary>What the trainer tells a <see cref="ITrainingHooks"/> after a step.</summary>
/// <param name="Step">Steps done, this one included.</param>
/// <param name="TotalSteps">The run's planned steps (<c>train.steps</c>), for schedules.</param>
/// <param name="Applied">False when the step was skipped (non-finite loss or gradient): the parameters did not change.</param>
public sealed record HookStep(long Step, long TotalSteps, bool Applied);

/// <summary>What a hook adds to the step's report.</summary>
public sealed record HookNotes
{
    /// <summary>Seconds of the step spent in teachers: their forwards (a part of the forward time) and EMA updates.</summary>
    public double TeacherSeconds { get; init; }

    /// <summary>The collapse guard's measure of the student's features this step (see <see cref="CollapseGuard"/>), when one watches.</summary>
    public double? FeatureStd { get; init; }

    /// <summary>Set once the features have collapsed (see <see cref="CollapseGuard"/>); stays set.</summary>
    public string? CollapseWarning { get; init; }
}

/// <summary>
/// Optional: an encoder or objective with state outside its trained parameters, such as a teacher (DESIGN.md section 3).
/// The trainer calls it after every step, saves its tensors with the checkpoint (under <c>hooks.</c>) and restores
/// them in place on load. A model without hooks pays nothing.
/// </summary>
public interface ITrainingHooks
{
    /// <summary>After the optimizer step (or the skip) of <paramref name="step"/>: e.g. the EMA teacher's update.</summary>
    HookNotes AfterStep(HookStep step);

    /// <summary>Tensors saved with the checkpoint and copied back into these same tensors on load (bit for bit).</summary>
    IEnumerable<(string Name, Tensor Value)> CheckpointTensors() => [];

    /// <summary>Called after a checkpoint's tensors were restored; throw a <see cref="CheckpointException"/> to refuse it.</summary>
    void Restored(string checkpointPath) { }
}
