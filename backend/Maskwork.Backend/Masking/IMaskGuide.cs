using Maskwork.Abstractions;
using static TorchSharp.torch;

namespace Maskwork.Backend.Masking;

/// <summary>
/// A part that scores tokens before masking (Hard Patches Mining's loss predictor): the trainer runs it on
/// the full input without gradients and hands its scores to the masker as <see cref="MaskContext.Guidance"/>.
/// </summary>
public interface IMaskGuide
{
    /// <summary>Per-token scores [B,N] (higher = harder), or null when this part gives no guidance.</summary>
    Tensor? Guidance(TokenBatch tokens, IEncoder encoder);
}
