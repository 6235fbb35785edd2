using Maskwork.Abstractions;
using Maskwork.Backend.Nn;
using Parameter = TorchSharp.Modules.Parameter;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Voxel.Model;

/// <summary>The loss a <see cref="VoxelMaeObjective"/> scores the masked patches with.</summary>
public enum VoxelLoss
{
    /// <summary>Occupancy: per-voxel logits, binary cross-entropy with a positive weight (occupied voxels are rare).</summary>
    Occupancy,
    /// <summary>
    /// NeRF-MAE: RGB MSE on the masked voxels whose true α &gt; 0.01 plus α MSE on all masked voxels, the occupied ones
    /// (α &gt; 0.01) weighted by the positive weight (1 = NeRF-MAE's unweighted loss).
    /// </summary>
    Nerf,
}

/// <summary>
/// MAE's decoder (visible latents projected, a learned [MASK] token at every masked position, 3-D sin-cos positions,
/// a light transformer, a linear head to every voxel of every patch) with a voxel loss. Each sample's loss is the mean
/// over its own masked voxels (with NeRF-MAE's α &gt; 0.01 selection per sample), then the batch mean: samples weigh
/// the same and the masked count is fixed, so slices of a batch sum (two CPU workers). The reconstruction is in voxel
/// units: occupancy probabilities, or RGB-α clamped to [0, 1].
/// </summary>
public sealed class VoxelMaeObjective : nn.Module, IObjective
{
    readonly Dense decoderEmbed, predict;
    readonly Parameter maskToken;
    readonly Transformer decoder;
    readonly PositionTable positions;
    readonly VoxelLoss loss;
    readonly int channels;
    readonly double positiveWeight;

    public VoxelMaeObjective(int encoderDim, int tokenDim, TransformerShape decoderShape, VoxelLoss loss, int channels, double positiveWeight = 1)
        : base(nameof(VoxelMaeObjective))
    {
        if (loss == VoxelLoss.Nerf && channels != 4) throw new ArgumentException($"the NeRF-MAE loss needs RGB-α tokens (4 channels), got {channels}");
        decoderEmbed = new Dense(encoderDim, decoderShape.Dim);
        maskToken = nn.Parameter(zeros(1, 1, decoderShape.Dim));
        nn.init.normal_(maskToken, 0, 0.02);
        decoder = new Transformer(decoderShape.Dim, decoderShape.Depth, decoderShape.Heads, decoderShape.MlpRatio);
        predict = new Dense(decoderShape.Dim, tokenDim);
        positions = new PositionTable(decoderShape.Dim);
        this.loss = loss;
        this.channels = channels;
        this.positiveWeight = positiveWeight;
        RegisterComponents();
    }

    /// <summary>Predictions for every token [B, N, tokenDim] (logits for occupancy).</summary>
    public Tensor PredictAll(TokenBatch tokens, MaskPlan plan, Encoded encoded)
    {
        var visible = decoderEmbed.forward(encoded.Latent);
        var x = visible;
        if (plan.MaskedCount > 0)
        {
            var masks = maskToken.to_type(visible.dtype).expand(visible.shape[0], plan.MaskedCount, visible.shape[2]);
            x = TokenOps.Unshuffle(visible, masks, plan.Visible, plan.Masked);
        }
        x = x.Plus(positions.For(tokens.Layout, x.device));
        return predict.forward(decoder.forward(x)).to_type(ScalarType.Float32);
    }

    public ObjectiveResult Compute(TokenBatch tokens, MaskPlan plan, Encoded encoded)
    {
        using var k = new HeldScalars();
        var prediction = PredictAll(tokens, plan, encoded);
        var p = TokenOps.Gather(prediction, plan.Masked);
        var t = TokenOps.Gather(tokens.Tokens, plan.Masked);
        long b = p.shape[0];
        Tensor value;
        Tensor reconstruction;
        if (loss == VoxelLoss.Occupancy)
        {
            // pw·t·softplus(−x) + (1 − t)·softplus(x): BCE with logits and a positive weight, stable for large |x|.
            // softplus(x) = relu(x) + log1p(exp(−|x|)), softplus(−x) = softplus(x) − x: written out because TorchSharp's
            // softplus passes its beta and threshold as temporary Scalars, which a GC on the other worker freed mid-call.
            var softplus = p.relu().Plus(p.abs().neg().exp().log1p());
            var perVoxel = (softplus - p).mul(t).mul(k[positiveWeight])
                .add(softplus.mul(t.neg().add(k[1.0], Held.One)), Held.One);
            value = perVoxel.view(b, -1).mean([1L]).mean();
            reconstruction = prediction.sigmoid();
        }
        else
        {
            var pv = p.view(b, -1, channels);
            var tv = t.view(b, -1, channels);
            var occupied = tv.select(-1, 3).gt(k[0.01]).to_type(ScalarType.Float32);   // [B, M·p³]
            var rgbError = (pv.narrow(-1, 0, 3) - tv.narrow(-1, 0, 3)).Squared().mean([-1L]);
            var rgb = rgbError.mul(occupied).sum([1L]).div(occupied.sum([1L]).clamp_min(k[1.0]));
            var alphaError = (pv.select(-1, 3) - tv.select(-1, 3)).Squared();
            // Occupied voxels are a few percent of a mesh's grid: unweighted, the α MSE is least with every masked voxel
            // transparent. A positive weight w moves the 0.5 crossing of the optimal α to P(occupied) = 1/(1 + w).
            if (positiveWeight != 1) alphaError = alphaError.mul(occupied.mul(k[positiveWeight - 1]).add(k[1.0], Held.One));
            var alpha = alphaError.mean([1L]);
            value = rgb.add(alpha, Held.One).mean();
            reconstruction = prediction.clamp(k[0.0], k[1.0]);
        }
        return new ObjectiveResult(value) { Reconstruction = reconstruction.detach() };
    }
}
