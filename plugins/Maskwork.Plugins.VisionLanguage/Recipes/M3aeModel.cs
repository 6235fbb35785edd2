using Maskwork.Abstractions;
using Maskwork.Backend.Nn;
using Maskwork.Backend.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace Maskwork.Plugins.VisionLanguage.Recipes;

/// <summary>A pre-norm transformer block whose attention ignores keys marked invalid (padding, empty visible slots).</summary>
public sealed class MaskedBlock : nn.Module<Tensor, Tensor, Tensor>
{
    readonly Norm norm1, norm2;
    readonly Dense qkv, proj, fc1, fc2;
    readonly int heads;

    public MaskedBlock(int dim, int heads, double mlpRatio = 4.0) : base(nameof(MaskedBlock))
    {
        if (dim % heads != 0) throw new ArgumentException($"width {dim} is not divisible by {heads} heads");
        this.heads = heads;
        norm1 = new Norm(dim); qkv = new Dense(dim, 3L * dim); proj = new Dense(dim, dim);
        norm2 = new Norm(dim); fc1 = new Dense(dim, (long)(dim * mlpRatio)); fc2 = new Dense((long)(dim * mlpRatio), dim);
        RegisterComponents();
    }

    /// <param name="x">[B,N,D]</param>
    /// <param name="keys">[B,N] bool, true where a token may be attended to.</param>
    public override Tensor forward(Tensor x, Tensor keys)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], n = x.shape[1], c = x.shape[2];
        var qkvOut = qkv.forward(norm1.forward(x)).view(b, n, 3, heads, c / heads).permute(2, 0, 3, 1, 4).unbind(0);
        var attn = nn.functional.scaled_dot_product_attention(qkvOut[0], qkvOut[1], qkvOut[2], attn_mask: keys.view(b, 1, 1, n));
        x = x.Plus(proj.forward(attn.transpose(1, 2).reshape(b, n, c)));
        x = x.Plus(fc2.forward(nn.functional.gelu(fc1.forward(norm2.forward(x)))));
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>Blocks of <see cref="MaskedBlock"/> and a final norm.</summary>
public sealed class MaskedTransformer : nn.Module<Tensor, Tensor, Tensor>
{
    readonly nn.Module<Tensor, Tensor, Tensor>[] blocks;
    readonly Norm norm;

    public MaskedTransformer(int dim, int depth, int heads) : base(nameof(MaskedTransformer))
    {
        blocks = Enumerable.Range(0, depth).Select(_ => (nn.Module<Tensor, Tensor, Tensor>)new MaskedBlock(dim, heads)).ToArray();
        for (int i = 0; i < blocks.Length; i++) register_module($"block{i}", blocks[i]);
        norm = new Norm(dim);
        register_module("norm", norm);
    }

    public override Tensor forward(Tensor x, Tensor keys)
    {
        foreach (var block in blocks) x = block.forward(x, keys);
        return norm.forward(x);
    }
}

/// <summary>
/// Which image patches and text tokens the encoder sees, and their order in its sequence: shown tokens first (image,
/// then text, each in index order), padded to the batch's largest visible count with invalid slots. Encoder and
/// objective both derive it from the plan, so they agree. A plan without parts (probes: <see cref="MaskPlan.None"/>)
/// shows the image only.
/// </summary>
public sealed record VisibleSet(Tensor ShowImage, Tensor ShowText, Tensor Index, Tensor Valid)
{
    public static VisibleSet Of(TokenBatch tokens, MaskPlan plan)
    {
        using var s = new HeldScalars(); // runs on slice workers: no temporary Scalars (Held.cs)
        var image = tokens.Parts?["image"] ?? tokens;
        var text = tokens.Parts?["text"];
        long b = image.BatchSize, ni = image.TokenCount, nt = text?.TokenCount ?? 0;
        var device = image.Tokens.device;
        var showImage = Shown(plan.Parts?["image"] ?? plan, b, ni, device);
        Tensor showText;
        if (text is null || plan.Parts is null) showText = zeros(b, nt, dtype: ScalarType.Bool, device: device);
        else
        {
            showText = Shown(plan.Parts["text"], b, nt, device);
            if (text.Padding is { } pad) showText = showText.logical_and(pad.logical_not());
        }
        var shown = cat([showImage, showText], 1);
        long n = ni + nt;
        var counts = shown.sum(1, type: ScalarType.Int64);
        long k = Math.Max(1, counts.max().item<long>());
        // Shown tokens first in index order: sort key = (hidden ? n : 0) + position.
        var key = shown.logical_not().to_type(ScalarType.Int64).mul(s.Int(n)).Plus(arange(n, dtype: ScalarType.Int64, device: device).unsqueeze(0));
        var index = key.argsort(1)[.., ..(int)k];
        var valid = arange(k, dtype: ScalarType.Int64, device: device).unsqueeze(0).lt(counts.unsqueeze(1));
        return new VisibleSet(showImage, showText, index, valid);
    }

    static Tensor Shown(MaskPlan plan, long b, long n, Device device)
    {
        if (plan.Dense is { } dense) return dense.logical_not();
        return zeros(b, n, dtype: ScalarType.Bool, device: device).scatter(1, plan.Visible, ones(plan.Visible.shape, dtype: ScalarType.Bool, device: device));
    }
}

/// <summary>
/// M3AE's encoder: image patches (linear) and caption tokens (embedding) with their own fixed sin-cos positions (2-D grid,
/// 1-D sequence) and a learned modality-type embedding each, one transformer over the visible tokens of both.
/// </summary>
public sealed class M3aeEncoder : nn.Module, IEncoder
{
    readonly Dense imageIn;
    readonly TorchSharp.Modules.Embedding textIn;
    readonly TorchSharp.Modules.Parameter imageType, textType;
    readonly MaskedTransformer transformer;
    readonly PositionTable positions;

    public M3aeEncoder(int patchDim, int vocabulary, TransformerShape shape) : base(nameof(M3aeEncoder))
    {
        Dim = shape.Dim;
        imageIn = new Dense(patchDim, shape.Dim);
        textIn = nn.Embedding(vocabulary, shape.Dim);
        imageType = nn.Parameter(zeros(1, 1, shape.Dim).normal_(0, 0.02));
        textType = nn.Parameter(zeros(1, 1, shape.Dim).normal_(0, 0.02));
        transformer = new MaskedTransformer(shape.Dim, shape.Depth, shape.Heads);
        positions = new PositionTable(shape.Dim);
        RegisterComponents();
    }

    public int Dim { get; }

    /// <summary>Every image and text token embedded with position and type [B, Ni+Nt, D].</summary>
    public Tensor Embed(TokenBatch tokens)
    {
        var image = tokens.Parts?["image"] ?? tokens;
        var x = imageIn.forward(image.Tokens).Plus(positions.For(image.Layout, image.Tokens.device)).Plus(imageType);
        if (tokens.Parts?.GetValueOrDefault("text") is not { } text) return x;
        var t = textIn.forward(text.Tokens.squeeze(-1)).Plus(positions.For(text.Layout, text.Tokens.device)).Plus(textType);
        return cat([x, t], 1);
    }

    public Encoded Encode(TokenBatch tokens, MaskPlan plan)
    {
        var set = VisibleSet.Of(tokens, plan);
        var x = TokenOps.Gather(Embed(tokens), set.Index);
        return new Encoded(transformer.forward(x, set.Valid));
    }
}

/// <summary>
/// M3AE's decoder and loss: encoded tokens and mask tokens back in place, decoder positions and types, a small masked
/// transformer, a pixel head (MSE on masked patches, norm-pix optional) and a vocabulary head (cross-entropy on masked
/// non-padding tokens), loss = image + w·text. Each sample's text term is the mean over its own masked tokens, so the
/// loss is a mean of per-sample terms (slices may train on parallel workers).
/// </summary>
public sealed class M3aeObjective : nn.Module, IObjective
{
    readonly Dense project, imageOut, textOut;
    readonly TorchSharp.Modules.Parameter maskToken, imageType, textType;
    readonly MaskedTransformer decoder;
    readonly PositionTable positions;
    readonly bool normPix;
    readonly double textWeight;
    readonly object last = new();

    public M3aeObjective(int encoderDim, int patchDim, int vocabulary, TransformerShape decoder, bool normPix, double textWeight) : base(nameof(M3aeObjective))
    {
        project = new Dense(encoderDim, decoder.Dim);
        maskToken = nn.Parameter(zeros(1, 1, decoder.Dim).normal_(0, 0.02));
        imageType = nn.Parameter(zeros(1, 1, decoder.Dim).normal_(0, 0.02));
        textType = nn.Parameter(zeros(1, 1, decoder.Dim).normal_(0, 0.02));
        this.decoder = new MaskedTransformer(decoder.Dim, decoder.Depth, decoder.Heads);
        imageOut = new Dense(decoder.Dim, patchDim);
        textOut = new Dense(decoder.Dim, vocabulary);
        positions = new PositionTable(decoder.Dim);
        this.normPix = normPix;
        this.textWeight = textWeight;
        RegisterComponents();
    }

    /// <summary>Predicted caption ids [B,Nt] of the last <see cref="Compute"/> (for pictures), detached on the CPU.</summary>
    public Tensor? LastText { get; private set; }

    /// <summary>Per-sample text cross-entropy of the last <see cref="Compute"/> [B] (retrieval scores), detached on the CPU.</summary>
    public Tensor? LastTextLoss { get; private set; }

    public ObjectiveResult Compute(TokenBatch tokens, MaskPlan plan, Encoded encoded)
    {
        using var s = new HeldScalars(); // runs on slice workers: no temporary Scalars (Held.cs)
        var image = tokens.Parts?["image"] ?? tokens;
        var text = tokens.Parts?.GetValueOrDefault("text");
        var set = VisibleSet.Of(tokens, plan);
        long b = image.BatchSize, ni = image.TokenCount, nt = text?.TokenCount ?? 0, n = ni + nt;
        var device = image.Tokens.device;

        var y = project.forward(encoded.Latent);
        y = where(set.Valid.unsqueeze(-1), y, maskToken.to_type(y.dtype).expand_as(y));
        var full = maskToken.to_type(y.dtype).expand(b, n, y.shape[2]).clone().scatter(1, set.Index.unsqueeze(-1).expand(-1, -1, y.shape[2]), y);
        var pos = positions.For(image.Layout, device).Plus(imageType);
        if (text is not null) pos = cat([pos, positions.For(text.Layout, device).Plus(textType)], 1);
        full = full.Plus(pos);
        var keys = text?.Padding is { } pad ? cat([ones(b, ni, dtype: ScalarType.Bool, device: device), pad.logical_not()], 1) : ones(b, n, dtype: ScalarType.Bool, device: device);
        var h = decoder.forward(full, keys);

        var predImage = imageOut.forward(h[.., ..(int)ni]);
        var target = image.Tokens;
        Tensor? mu = null, sd = null;
        if (normPix) (target, mu, sd) = PatchNorm.NormPix(target);
        var hiddenImage = set.ShowImage.logical_not().to_type(ScalarType.Float32);
        var perPatch = predImage.to_type(ScalarType.Float32).sub(target).Squared().mean([-1]);
        var imageLoss = perPatch.mul(hiddenImage).sum(1).div(hiddenImage.sum(1).clamp_min(s[1])).mean();
        var loss = imageLoss;
        var metrics = new Dictionary<string, Tensor> { ["image_mse"] = imageLoss.detach() };

        if (text is not null)
        {
            var logits = textOut.forward(h[.., (int)ni..]).to_type(ScalarType.Float32);
            var ids = text.Tokens.squeeze(-1);
            var hiddenText = set.ShowText.logical_not();
            if (text.Padding is { } p) hiddenText = hiddenText.logical_and(p.logical_not());
            var m = hiddenText.to_type(ScalarType.Float32);
            var ce = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[2]), ids.reshape(-1), reduction: nn.Reduction.None).view(b, nt);
            var perSample = ce.mul(m).sum(1).div(m.sum(1).clamp_min(s[1]));
            var textLoss = perSample.mean();
            loss = loss.Plus(textLoss.mul(s[textWeight]));
            var predicted = logits.argmax(-1);
            var correct = predicted.eq(ids).to_type(ScalarType.Float32).mul(m).sum().div(m.sum().clamp_min(s[1]));
            metrics["text_ce"] = textLoss.detach();
            metrics["text_acc"] = correct.detach();
            var lastText = predicted.detach().cpu();
            var lastLoss = perSample.detach().cpu();
            lastText.DetachFromDisposeScope(); lastLoss.DetachFromDisposeScope();
            lock (last) // slices run on two workers
            {
                LastText?.Dispose(); LastTextLoss?.Dispose();
                LastText = lastText; LastTextLoss = lastLoss;
            }
        }

        var recon = predImage.detach().to_type(ScalarType.Float32);
        if (normPix) recon = recon.mul(sd!).Plus(mu!);
        return new ObjectiveResult(loss) { Metrics = metrics, Reconstruction = recon };
    }
}
