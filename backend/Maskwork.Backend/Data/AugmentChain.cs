using Maskwork.Abstractions;

namespace Maskwork.Backend.Data;

/// <summary>Augmentations applied in order, each to the previous one's output (a recipe has one augmentation slot).</summary>
public sealed class AugmentChain(params ISampleAugment[] steps) : ISampleAugment
{
    public IReadOnlyList<ISampleAugment> Steps { get; } = steps;

    public IReadOnlyList<Sample> Apply(IReadOnlyList<Sample> batch, long batchIndex)
    {
        foreach (var step in Steps) batch = step.Apply(batch, batchIndex);
        return batch;
    }
}
