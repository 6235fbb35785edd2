using Maskwork.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace Maskwork.Backend.Training;

/// <summary>The trainable whole: a recipe's encoder and objective as one module, so parameters, state and checkpoints have one home.</summary>
public sealed class MaskedModel : nn.Module
{
    readonly nn.Module encoder;
    readonly nn.Module objective;

    public MaskedModel(ModelParts parts) : base(nameof(MaskedModel))
    {
        Parts = parts;
        encoder = parts.Encoder as nn.Module ?? throw new ArgumentException($"encoder {parts.Encoder.GetType().Name} must be a torch.nn.Module");
        objective = parts.Objective as nn.Module ?? throw new ArgumentException($"objective {parts.Objective.GetType().Name} must be a torch.nn.Module");
        RegisterComponents();
    }

    public ModelParts Parts { get; }

    /// <summary>Names of parameters that must not be weight-decayed: biases, norms, tokens and positional tables (MAE).</summary>
    public static bool Decays(string name, Tensor value) =>
        value.dim() >= 2 && !name.Contains("token", StringComparison.OrdinalIgnoreCase) && !name.Contains("pos", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Plans the batch's mask: when the objective guides masking (<see cref="Masking.IMaskGuide"/>, e.g. HPM's loss
    /// predictor) and the context has no guidance yet, its scores on the full input, without gradients, become
    /// <see cref="MaskContext.Guidance"/>.
    /// </summary>
    public MaskPlan Plan(TokenBatch tokens, MaskContext context)
    {
        if (context.Guidance is null && Parts.Objective is Masking.IMaskGuide guide)
        {
            using var _ = no_grad();
            if (guide.Guidance(tokens, Parts.Encoder) is { } scores) context = context with { Guidance = scores.detach() };
        }
        return Parts.Masker.Plan(tokens, context);
    }

    public ObjectiveResult Forward(TokenBatch tokens, MaskPlan plan) =>
        Parts.Objective.Compute(tokens, plan, Parts.Encoder.Encode(tokens, plan));
}
