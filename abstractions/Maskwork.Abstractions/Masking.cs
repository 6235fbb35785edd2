using static TorchSharp.torch;

namespace Maskwork.Abstractions;

/// <summary>
/// Which tokens the encoder sees. <see cref="Visible"/> [B,Nv] and <see cref="Masked"/> [B,Nm] are
/// disjoint int64 index sets that together cover every token of every sample.
/// </summary>
public sealed record MaskPlan(Tensor Visible, Tensor Masked)
{
    /// <summary>
    /// Optional decoder mask [B,Nd] (VideoMAE V2 dual masking): the tokens the decoder keeps, the same count
    /// per sample; the loss counts the tokens the encoder masked and the decoder kept. Null = every masked token.
    /// </summary>
    public Tensor? DecoderTargets { get; init; }

    /// <summary>
    /// Optional dense form of the mask [B,N] bool, true where a token is masked, for maskers whose masked count differs
    /// from sample to sample (LiDAR's radial masking hides whole sectors, each holding a different number of voxels).
    /// A dense plan is made by <see cref="FromDense"/>; its <see cref="Visible"/> and <see cref="Masked"/> are then
    /// empty [B,0] and consumers that accept dense plans read this instead. Null for index-set plans.
    /// </summary>
    public Tensor? Dense { get; init; }

    /// <summary>
    /// For a composite batch (<see cref="TokenBatch.Parts"/>): one plan per part. A part's plan is an index-set plan when
    /// every sample shows the same count of it, else a <see cref="Dense"/> one (masked = true; padding is neither visible
    /// nor masked). The composite plan's own index sets are its primary part's. Null for single-modality plans.
    /// </summary>
    public IReadOnlyDictionary<string, MaskPlan>? Parts { get; init; }

    /// <summary>Visible tokens per sample (for a <see cref="Dense"/> plan, the mean over the batch, rounded).</summary>
    public long VisibleCount => Dense is null ? Visible.shape[1] : (long)Math.Round(Dense.logical_not().sum().item<long>() / (double)Dense.shape[0]);

    /// <summary>Masked tokens per sample (for a <see cref="Dense"/> plan, the mean over the batch, rounded).</summary>
    public long MaskedCount => Dense is null ? Masked.shape[1] : (long)Math.Round(Dense.sum().item<long>() / (double)Dense.shape[0]);

    /// <summary>A dense plan from a per-token mask [B,N] (true or non-zero = masked); see <see cref="Dense"/>.</summary>
    public static MaskPlan FromDense(Tensor masked)
    {
        if (masked.dim() != 2) throw new ArgumentException($"a dense mask is [B,N], got [{string.Join(',', masked.shape)}]");
        var none = empty(masked.shape[0], 0, dtype: ScalarType.Int64, device: masked.device);
        return new MaskPlan(none, none) { Dense = masked.to_type(ScalarType.Bool) };
    }

    /// <summary>A plan that shows every token (used for features and probes).</summary>
    public static MaskPlan None(long batch, long tokens, Device device)
    {
        var visible = arange(tokens, dtype: ScalarType.Int64, device: device).unsqueeze(0).expand(batch, tokens);
        return new MaskPlan(visible, empty(batch, 0, dtype: ScalarType.Int64, device: device));
    }
}

/// <summary>
/// What a masker may use: the step (for schedules), a seeded generator (every random choice comes
/// from it: same seed, same masks) and optional guidance (a teacher's saliency, a caption).
/// </summary>
public sealed record MaskContext(long Step, Generator Generator)
{
    /// <summary>Optional per-token guidance [B,N], e.g. a saliency map or a predicted loss (higher = harder).</summary>
    public Tensor? Guidance { get; init; }

    /// <summary>The run's seed: with <see cref="Step"/> and <see cref="TokenBatch.SampleKeys"/> it decides each sample's mask.</summary>
    public long Seed { get; init; }

    /// <summary>Steps the run spans (mask-ratio schedules run over them); 0 when unknown (schedules stay at their start).</summary>
    public long TotalSteps { get; init; }
}

/// <summary>Chooses visible and masked tokens.</summary>
public interface IMasker
{
    /// <summary>Plans the mask of one batch.</summary>
    MaskPlan Plan(TokenBatch tokens, MaskContext context);
}
