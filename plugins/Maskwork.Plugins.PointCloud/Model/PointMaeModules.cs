using Maskwork.Abstractions;
using Maskwork.Backend.Nn;
using Maskwork.Backend.Objectives;
using TorchSharp;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Maskwork.Plugins.PointCloud.Model;

/// <summary>
/// Point-MAE's group embedding (a mini-PointNet): a shared per-point MLP, a max-pooled group
/// feature concatenated back onto every point, a second per-point MLP, and a max over the group.
/// [.., K, 3] → [.., Dout]. LayerNorm stands in for the paper's BatchNorm (no batch statistics
/// to carry between training and probing).
/// </summary>
public sealed class MiniPointNet : nn.Module<Tensor, Tensor>
{
    readonly Dense conv1, conv2, conv3, conv4;
    readonly Norm norm1, norm3;

    public MiniPointNet(int outDim, int hidden1 = 64, int hidden2 = 128, int hidden3 = 256) : base(nameof(MiniPointNet))
    {
        conv1 = new Dense(3, hidden1);
        norm1 = new Norm(hidden1);
        conv2 = new Dense(hidden1, hidden2);
        conv3 = new Dense(2 * hidden2, hidden3);
        norm3 = new Norm(hidden3);
        conv4 = new Dense(hidden3, outDim);
        RegisterComponents();
    }

    public override Tensor forward(Tensor groups)
    {
        using var scope = NewDisposeScope();
        var f = conv2.forward(nn.functional.relu(norm1.forward(conv1.forward(groups))));   // [..,K,h2]
        var global = f.amax([-2L], keepdim: true).expand_as(f);
        f = cat([global, f], -1);
        f = conv4.forward(nn.functional.relu(norm3.forward(conv3.forward(f))));
        return f.amax([-2L]).MoveToOuterDisposeScope();
    }
}

/// <summary>Point-MAE's positional embedding: centre xyz through Linear → GELU → Linear.</summary>
public sealed class PositionMlp : nn.Module<Tensor, Tensor>
{
    readonly Dense fc1, fc2;

    public PositionMlp(int dim, int hidden = 128) : base(nameof(PositionMlp))
    {
        fc1 = new Dense(3, hidden);
        fc2 = new Dense(hidden, dim);
        RegisterComponents();
    }

    public override Tensor forward(Tensor xyz) => fc2.forward(nn.functional.gelu(fc1.forward(xyz)));
}

/// <summary>Transformer blocks that add the positional embedding before every block (as Point-MAE does), then a final norm.</summary>
public sealed class PositionedTransformer : nn.Module<Tensor, Tensor, Tensor>
{
    readonly TorchSharp.Modules.ModuleList<TransformerBlock> blocks;
    readonly Norm norm;

    public PositionedTransformer(TransformerShape shape) : base(nameof(PositionedTransformer))
    {
        blocks = nn.ModuleList(Enumerable.Range(0, shape.Depth).Select(_ => new TransformerBlock(shape.Dim, shape.Heads, shape.MlpRatio)).ToArray());
        norm = new Norm(shape.Dim);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, Tensor pos)
    {
        foreach (var block in blocks) x = block.forward(x + pos.to_type(x.dtype));
        return norm.forward(x);
    }
}

/// <summary>
/// Point-MAE's encoder: the mini-PointNet embeds only the visible groups, their centres go through
/// the position MLP, and a transformer (positions added at every block) encodes them.
/// </summary>
public sealed class PointMaeEncoder : nn.Module, IEncoder
{
    readonly MiniPointNet group_embed;
    readonly PositionMlp pos_embed;
    readonly PositionedTransformer blocks;
    readonly int groupSize;

    public PointMaeEncoder(int groupSize, TransformerShape shape) : base(nameof(PointMaeEncoder))
    {
        this.groupSize = groupSize;
        Dim = shape.Dim;
        group_embed = new MiniPointNet(shape.Dim);
        pos_embed = new PositionMlp(shape.Dim);
        blocks = new PositionedTransformer(shape);
        RegisterComponents();
    }

    public int Dim { get; }

    public Encoded Encode(TokenBatch tokens, MaskPlan plan)
    {
        var positions = tokens.Positions ?? throw new ArgumentException("Point-MAE needs group centres in TokenBatch.Positions");
        var visible = TokenOps.Gather(tokens.Tokens, plan.Visible);
        long b = visible.shape[0], nv = visible.shape[1];
        var x = group_embed.forward(visible.reshape(b, nv, groupSize, 3));
        var pos = pos_embed.forward(TokenOps.Gather(positions, plan.Visible));
        return new Encoded(blocks.forward(x, pos));
    }
}

/// <summary>
/// Point-MAE's decoder and loss: visible latents and a learned mask token per masked group, each
/// with its centre's positional embedding (added at every block), a light transformer, and a linear
/// head that predicts the K points of every masked group; the loss is Chamfer-L2 between predicted
/// and true neighbourhoods (both relative to the group centre).
/// </summary>
public sealed class PointMaeObjective : nn.Module, IObjective
{
    readonly Dense decoder_embed, head;
    readonly Parameter mask_token;
    readonly PositionMlp decoder_pos_embed;
    readonly PositionedTransformer decoder;
    readonly int groupSize;

    public PointMaeObjective(int encoderDim, int groupSize, TransformerShape decoderShape) : base(nameof(PointMaeObjective))
    {
        this.groupSize = groupSize;
        decoder_embed = new Dense(encoderDim, decoderShape.Dim);
        mask_token = nn.Parameter(zeros(1, 1, decoderShape.Dim));
        nn.init.trunc_normal_(mask_token, 0, 0.02);
        decoder_pos_embed = new PositionMlp(decoderShape.Dim);
        decoder = new PositionedTransformer(decoderShape);
        head = new Dense(decoderShape.Dim, 3L * groupSize);
        RegisterComponents();
    }

    public ObjectiveResult Compute(TokenBatch tokens, MaskPlan plan, Encoded encoded)
    {
        var positions = tokens.Positions ?? throw new ArgumentException("Point-MAE needs group centres in TokenBatch.Positions");
        var visible = decoder_embed.forward(encoded.Latent);
        long b = visible.shape[0], nv = visible.shape[1], nm = plan.MaskedCount;
        if (nm == 0) throw new ArgumentException("Point-MAE's loss needs masked groups (mask ratio > 0)");
        var masks = mask_token.to_type(visible.dtype).expand(b, nm, visible.shape[2]);
        var x = cat([visible, masks], 1);
        var pos = decoder_pos_embed.forward(cat([TokenOps.Gather(positions, plan.Visible), TokenOps.Gather(positions, plan.Masked)], 1));
        x = decoder.forward(x, pos);
        var predicted = head.forward(x.narrow(1, nv, nm)).to_type(ScalarType.Float32);          // [B,Nm,K·3]
        var target = TokenOps.Gather(tokens.Tokens, plan.Masked);                               // [B,Nm,K·3]
        var loss = Chamfer.L2(predicted.reshape(b * nm, groupSize, 3), target.reshape(b * nm, groupSize, 3)).mean();
        // Every token in input space: the visible groups as given, the masked ones as predicted.
        var reconstruction = TokenOps.Unshuffle(TokenOps.Gather(tokens.Tokens, plan.Visible), predicted.detach(), plan.Visible, plan.Masked);
        return new ObjectiveResult(loss) { Metrics = new Dictionary<string, Tensor> { ["chamfer_l2"] = loss.detach() }, Reconstruction = reconstruction };
    }
}
