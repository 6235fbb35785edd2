using Maskwork.Abstractions;
using Maskwork.Backend.Nn;
using Maskwork.Backend.Objectives;
using Maskwork.Backend.Tokenization;
using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Video.Model;

/// <summary>
/// VideoMAE's decoder and loss. The visible latents are projected to the decoder width (no bias), a learned
/// [MASK] token stands at every token to predict, fixed 3-D sin-cos positions are added, a light transformer
/// runs and a linear head predicts the tubelets' pixels, scored by MSE against targets normalised per
/// tubelet and channel with the unbiased variance (<see cref="PatchNorm.PerChannel"/>).
/// <para>
/// With a decoder mask (VideoMAE V2, <see cref="MaskPlan.DecoderTargets"/>) the decoder, while training,
/// takes mask tokens only where the encoder masked and the decoder kept (that is where V2 saves its
/// decoder cost) and the loss is their mean; in eval mode (pictures) it predicts every masked token and the
/// loss still counts only the kept ones (<see cref="Losses.DecoderQueries"/>). Each sample's mean, then the mean
/// over samples: slices of a batch sum.
/// </para>
/// </summary>
public sealed class VideoMaeObjective : nn.Module, IObjective
{
    readonly Dense decoderEmbed, predict;
    readonly Parameter maskToken;
    readonly Transformer decoder;
    readonly PositionTable positions;
    readonly int channels;
    static readonly Scalar Epsilon = 1e-6.ToScalar();

    public VideoMaeObjective(int encoderDim, int tokenDim, int channels, TransformerShape decoderShape) : base(nameof(VideoMaeObjective))
    {
        decoderEmbed = new Dense(encoderDim, decoderShape.Dim, hasBias: false);
        maskToken = nn.Parameter(zeros(1, 1, decoderShape.Dim));
        nn.init.trunc_normal_(maskToken, 0, 0.02);
        decoder = new Transformer(decoderShape.Dim, decoderShape.Depth, decoderShape.Heads, decoderShape.MlpRatio);
        predict = new Dense(decoderShape.Dim, tokenDim);
        positions = new PositionTable(decoderShape.Dim);
        this.channels = channels;
        RegisterComponents();
    }

    /// <summary>The tokens the decoder predicts [B,K], and the weight of each in the loss [B,K] (null: all count).</summary>
    (Tensor Predicted, Tensor? Weight) Targets(TokenBatch tokens, MaskPlan plan)
    {
        if (plan.DecoderTargets is not { } kept) return (plan.Masked, null);
        // Training: masked-and-kept first, padded to the batch's largest count with weight 0 (the backend's one place for this).
        if (training) return Losses.DecoderQueries(plan.Masked, kept, tokens.TokenCount);
        // Eval (pictures): predict every masked token; the loss still counts only the kept ones.
        var inKept = zeros(kept.shape[0], tokens.TokenCount, dtype: ScalarType.Float32, device: kept.device)
            .scatter(1, kept, ones(kept.shape, dtype: ScalarType.Float32, device: kept.device));
        return (plan.Masked, inKept.gather(1, plan.Masked));
    }

    public ObjectiveResult Compute(TokenBatch tokens, MaskPlan plan, Encoded encoded)
    {
        var (predicted, weight) = Targets(tokens, plan);
        var visible = decoderEmbed.forward(encoded.Latent);
        long b = visible.shape[0], d = visible.shape[2];
        var table = positions.For(tokens.Layout, visible.device).to_type(visible.dtype).expand(b, -1, -1);
        var queries = maskToken.to_type(visible.dtype).expand(b, predicted.shape[1], d).Plus(TokenOps.Gather(table, predicted));
        var x = cat([visible.Plus(TokenOps.Gather(table, plan.Visible)), queries], 1);
        var features = decoder.forward(x)[.., (int)plan.VisibleCount..];
        var prediction = predict.forward(features).to_type(ScalarType.Float32); // [B,K,Din]

        var raw = TokenOps.Gather(tokens.Tokens, predicted);
        var target = PatchNorm.PerChannel(raw, channels);
        var perToken = (prediction - target).square().mean([-1L]); // [B,K]
        Tensor loss;
        if (weight is null) loss = perToken.mean();
        else loss = perToken.mul(weight).sum(1).div(weight.sum(1).clamp_min(Held.One)).mean();
        return new ObjectiveResult(loss) { Reconstruction = Reconstruct(tokens, predicted, prediction.detach(), raw) };
    }

    /// <summary>
    /// Every token in input space: visible ones copied, predicted ones un-normalised with the statistics of
    /// their own target tubelets (as VideoMAE's visualiser does: the picture borrows the true mean and
    /// variance, so it shows structure, not the model's brightness).
    /// </summary>
    Tensor Reconstruct(TokenBatch tokens, Tensor predicted, Tensor prediction, Tensor raw)
    {
        using var _ = no_grad();
        long b = raw.shape[0], k = raw.shape[1];
        var x = raw.reshape(b, k, -1, channels);
        var mean = x.mean([-2L], keepdim: true);
        var std = x.var(-2L, unbiased: true, keepdim: true).sqrt().add(Epsilon, Held.One);
        var values = (prediction.reshape(b, k, -1, channels) * std).Plus(mean).reshape(b, k, -1);
        return tokens.Tokens.to_type(ScalarType.Float32).clone().scatter_(1, predicted.unsqueeze(-1).expand(b, k, values.shape[2]), values);
    }
}
