using Maskwork.Abstractions;
using Maskwork.Backend.Masking;
using Maskwork.Backend.Nn;
using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;
using static TorchSharp.torch;

namespace Maskwork.Backend.Objectives;

/// <summary>
/// MAE's decoder and loss: project the visible latents, add a learned [MASK] token at every masked
/// position, run a light transformer, predict every token and score the masked ones with
/// <see cref="Losses.MaskedMse"/> against (optionally per-token normalised) targets. With a decoder mask
/// (<see cref="MaskPlan.DecoderTargets"/>, VideoMAE V2) the decoder runs on the visible latents and [MASK]
/// only at the masked tokens it keeps, predicts only those and scores them — the saving V2 is about. With <c>predictLoss</c> (Hard Patches Mining) a head on the decoder also predicts each masked
/// token's loss, trained on the order of the real losses (HPM's relative loss); run on the full input, it
/// guides the masker (<see cref="IMaskGuide"/>).
/// </summary>
public sealed class MaeObjective : nn.Module, IObjective, IMaskGuide
{
    readonly Dense decoderEmbed, predict;
    readonly Dense? lossHead;
    readonly Parameter maskToken;
    readonly Transformer decoder;
    readonly PositionTable positions;
    readonly bool normPix;

    public MaeObjective(int encoderDim, int tokenDim, TransformerShape decoderShape, bool normPix)
        : this(encoderDim, tokenDim, decoderShape, normPix, predictLoss: false) { }

    /// <summary>MAE's objective, with HPM's loss-prediction head when <paramref name="predictLoss"/>.</summary>
    public MaeObjective(int encoderDim, int tokenDim, TransformerShape decoderShape, bool normPix, bool predictLoss) : base(nameof(MaeObjective))
    {
        decoderEmbed = new Dense(encoderDim, decoderShape.Dim);
        maskToken = nn.Parameter(zeros(1, 1, decoderShape.Dim));
        nn.init.normal_(maskToken, 0, 0.02);
        decoder = new Transformer(decoderShape.Dim, decoderShape.Depth, decoderShape.Heads, decoderShape.MlpRatio);
        predict = new Dense(decoderShape.Dim, tokenDim);
        if (predictLoss) lossHead = new Dense(decoderShape.Dim, 1);
        positions = new PositionTable(decoderShape.Dim);
        this.normPix = normPix;
        RegisterComponents();
    }

    /// <summary>Whether the objective predicts per-token losses (HPM).</summary>
    public bool PredictsLoss => lossHead is not null;

    /// <summary>Decoder features [B,N,Dd] for the visible latents with [MASK] at the masked positions.</summary>
    Tensor Decode(TokenBatch tokens, MaskPlan plan, Encoded encoded)
    {
        var visible = decoderEmbed.forward(encoded.Latent);
        var x = visible;
        if (plan.MaskedCount > 0)
        {
            var masks = maskToken.to_type(visible.dtype).expand(visible.shape[0], plan.MaskedCount, visible.shape[2]);
            x = TokenOps.Unshuffle(visible, masks, plan.Visible, plan.Masked);
        }
        x = x.Plus(positions.For(tokens.Layout, x.device));
        return decoder.forward(x);
    }

    public ObjectiveResult Compute(TokenBatch tokens, MaskPlan plan, Encoded encoded)
    {
        if (plan.DecoderTargets is not null && plan.MaskedCount > 0) return ComputeDual(tokens, plan, encoded);
        var features = Decode(tokens, plan, encoded);
        var prediction = predict.forward(features).to_type(ScalarType.Float32);

        var target = tokens.Tokens;
        Tensor reconstruction = prediction;
        if (normPix)
        {
            var (mean, std) = Losses.TokenStatistics(target);
            target = (target - mean) / std;
            reconstruction = (prediction * std).Plus(mean);
        }
        Tensor loss;
        if (lossHead is null) loss = Losses.MaskedMse(prediction, target, plan.Masked);
        else
        {
            var perToken = TokenOps.Gather(prediction - target, plan.Masked).Squared().mean([-1L]); // [B,Nm]
            var predicted = TokenOps.Gather(lossHead.forward(features), plan.Masked).squeeze(-1).to_type(ScalarType.Float32);
            loss = perToken.mean().Plus(Losses.RelativeOrder(predicted, perToken.detach()));
        }
        return new ObjectiveResult(loss) { Reconstruction = reconstruction.detach() };
    }

    /// <summary>
    /// VideoMAE V2 dual masking: the decoder sees the visible latents plus [MASK] at the masked tokens the decoder
    /// mask keeps (queries), and predicts only the queries. Samples with fewer such tokens than the batch's most are
    /// padded with other masked tokens that carry zero loss weight, so the loss is exactly the mean over masked ∩
    /// kept. The reconstruction holds predictions at the queries and the target's mean elsewhere (zero without norm-pix).
    /// </summary>
    ObjectiveResult ComputeDual(TokenBatch tokens, MaskPlan plan, Encoded encoded)
    {
        var (queries, weight) = Losses.DecoderQueries(plan.Masked, plan.DecoderTargets!, tokens.TokenCount);
        var visible = decoderEmbed.forward(encoded.Latent);
        long batch = visible.shape[0], dim = visible.shape[2];
        var table = positions.For(tokens.Layout, visible.device).expand(batch, -1, -1);
        var masks = maskToken.to_type(visible.dtype).expand(batch, queries.shape[1], dim);
        var x = cat([visible.Plus(TokenOps.Gather(table, plan.Visible)), masks.Plus(TokenOps.Gather(table, queries))], 1);
        var features = decoder.forward(x).narrow(1, plan.VisibleCount, queries.shape[1]);
        var prediction = predict.forward(features).to_type(ScalarType.Float32); // [B,M,D]

        var target = TokenOps.Gather(tokens.Tokens, queries);
        Tensor? mean = null, std = null;
        if (normPix)
        {
            // Statistics of every token once: the queries' for the target, all of them for the reconstruction.
            (mean, std) = Losses.TokenStatistics(tokens.Tokens);
            target = (target - TokenOps.Gather(mean, queries)) / TokenOps.Gather(std, queries);
        }
        var perToken = (prediction - target).Squared().mean([-1L]); // [B,M]
        var loss = perToken.mul(weight).sum(1).div(weight.sum(1).clamp_min(Held.One)).mean();
        if (lossHead is not null)
            loss = loss.Plus(Losses.RelativeOrder(lossHead.forward(features).squeeze(-1).to_type(ScalarType.Float32), perToken.detach()));

        var full = zeros_like(tokens.Tokens, dtype: ScalarType.Float32).scatter(1, queries.unsqueeze(-1).expand(-1, -1, prediction.shape[2]), prediction);
        if (mean is not null && std is not null) full = full.mul(std).Plus(mean);
        return new ObjectiveResult(loss) { Reconstruction = full.detach() };
    }

    /// <summary>HPM: the predicted loss of every token of the full (unmasked) input; null without the head.</summary>
    public Tensor? Guidance(TokenBatch tokens, IEncoder encoder)
    {
        if (lossHead is null) return null;
        var none = MaskPlan.None(tokens.BatchSize, tokens.TokenCount, tokens.Tokens.device);
        var features = Decode(tokens, none, encoder.Encode(tokens, none));
        return lossHead.forward(features).squeeze(-1).to_type(ScalarType.Float32);
    }
}
