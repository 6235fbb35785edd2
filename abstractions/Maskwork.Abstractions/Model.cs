using static TorchSharp.torch;

namespace Maskwork.Abstractions;

/// <summary>The encoder's output for the visible tokens [B,Nv,D], in the order of <see cref="MaskPlan.Visible"/>.</summary>
public sealed record Encoded(Tensor Latent)
{
    /// <summary>Optional global token [B,D] (a [CLS]), else null.</summary>
    public Tensor? Global { get; init; }
}

/// <summary>Encodes the visible tokens. Implementations are <c>torch.nn.Module</c>s.</summary>
public interface IEncoder
{
    /// <summary>Width of the latent tokens.</summary>
    int Dim { get; }

    /// <summary>Encodes the tokens of <paramref name="plan"/>'s visible set only.</summary>
    Encoded Encode(TokenBatch tokens, MaskPlan plan);
}

/// <summary>The loss of one step, named metrics, and (for pictures) the prediction of every token.</summary>
/// <param name="Loss">Scalar loss to minimise.</param>
public sealed record ObjectiveResult(Tensor Loss)
{
    /// <summary>Named scalar metrics to log (e.g. "mse").</summary>
    public IReadOnlyDictionary<string, Tensor> Metrics { get; init; } = new Dictionary<string, Tensor>();

    /// <summary>Predicted tokens [B,N,Din] in input space (normalisation undone), when the objective reconstructs.</summary>
    public Tensor? Reconstruction { get; init; }
}

/// <summary>Owns its decoder or head and turns an encoding into a loss. Implementations are <c>torch.nn.Module</c>s.</summary>
public interface IObjective
{
    /// <summary>Computes the loss on the masked tokens.</summary>
    ObjectiveResult Compute(TokenBatch tokens, MaskPlan plan, Encoded encoded);
}
