using Maskwork.Abstractions;
using Maskwork.Backend.Nn;
using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;
using static TorchSharp.torch;

namespace Maskwork.Backend.Objectives;

/// <summary>
/// MAE's decoder and loss: project the visible latents, add a learned [MASK] token at every masked
/// position, run a light transformer, predict every token and score the masked ones with
/// <see cref="Losses.MaskedMse"/> against (optionally per-token normalised) targets.
/// </summary>
public sealed class MaeObjective : nn.Module, IObjective
{
    readonly Dense decoderEmbed, predict;
    readonly Parameter maskToken;
    readonly Transformer decoder;
    readonly PositionTable positions;
    readonly bool normPix;

    public MaeObjective(int encoderDim, int tokenDim, TransformerShape decoderShape, bool normPix) : base(nameof(MaeObjective))
    {
        decoderEmbed = new Dense(encoderDim, decoderShape.Dim);
        maskToken = nn.Parameter(zeros(1, 1, decoderShape.Dim));
        nn.init.normal_(maskToken, 0, 0.02);
        decoder = new Transformer(decoderShape.Dim, decoderShape.Depth, decoderShape.Heads, decoderShape.MlpRatio);
        predict = new Dense(decoderShape.Dim, tokenDim);
        positions = new PositionTable(decoderShape.Dim);
        this.normPix = normPix;
        RegisterComponents();
    }

    public ObjectiveResult Compute(TokenBatch tokens, MaskPlan plan, Encoded encoded)
    {
        var visible = decoderEmbed.forward(encoded.Latent);
        var masks = maskToken.to_type(visible.dtype).expand(visible.shape[0], plan.MaskedCount, visible.shape[2]);
        var x = TokenOps.Unshuffle(visible, masks, plan.Visible, plan.Masked);
        x = x.Plus(positions.For(tokens.Layout, x.device));
        var prediction = predict.forward(decoder.forward(x)).to_type(ScalarType.Float32);

        var target = tokens.Tokens;
        Tensor reconstruction = prediction;
        if (normPix)
        {
            var (mean, std) = Losses.TokenStatistics(target);
            target = (target - mean) / std;
            reconstruction = (prediction * std).Plus(mean);
        }
        var loss = Losses.MaskedMse(prediction, target, plan.Masked);
        return new ObjectiveResult(loss) { Reconstruction = reconstruction.detach() };
    }
}
