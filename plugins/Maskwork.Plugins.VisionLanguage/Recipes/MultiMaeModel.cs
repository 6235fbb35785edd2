using Maskwork.Abstractions;
using Maskwork.Backend.Nn;
using Maskwork.Backend.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace Maskwork.Plugins.VisionLanguage.Recipes;

/// <summary>
/// Which tokens of each part the encoder sees and their order in its sequence, for any list of parts: shown tokens
/// first (parts in order, each in index order), padded to the batch's largest visible count with invalid slots. A plan
/// without parts (probes: <see cref="MaskPlan.None"/>) shows the first part only, as the plan says.
/// </summary>
public sealed record PartsVisible(Tensor[] Shown, long[] Offsets, long Total, Tensor Index, Tensor Valid)
{
    public static PartsVisible Of(TokenBatch tokens, MaskPlan plan, IReadOnlyList<string> names)
    {
        using var s = new HeldScalars(); // runs on slice workers: no temporary Scalars (Held.cs)
        var first = Part(tokens, names[0]);
        long b = first.BatchSize;
        var device = first.Tokens.device;
        var shown = new Tensor[names.Count];
        var offsets = new long[names.Count];
        long n = 0;
        for (int p = 0; p < names.Count; p++)
        {
            var part = p == 0 ? first : Part(tokens, names[p]);
            offsets[p] = n;
            n += part.TokenCount;
            if (plan.Parts is null) shown[p] = p == 0 ? ShownBy(plan, b, part.TokenCount, device) : zeros(b, part.TokenCount, dtype: ScalarType.Bool, device: device);
            else shown[p] = ShownBy(plan.Parts.TryGetValue(names[p], out var pp) ? pp : throw new ArgumentException($"the mask plan has no part '{names[p]}'"), b, part.TokenCount, device);
            if (part.Padding is { } pad) shown[p] = shown[p].logical_and(pad.logical_not());
        }
        var all = cat(shown, 1);
        var counts = all.sum(1, type: ScalarType.Int64);
        long k = Math.Max(1, counts.max().item<long>());
        var key = all.logical_not().to_type(ScalarType.Int64).mul(s.Int(n)).Plus(arange(n, dtype: ScalarType.Int64, device: device).unsqueeze(0));
        var index = key.argsort(1)[.., ..(int)k];
        var valid = arange(k, dtype: ScalarType.Int64, device: device).unsqueeze(0).lt(counts.unsqueeze(1));
        return new PartsVisible(shown, offsets, n, index, valid);
    }

    /// <summary>Part <paramref name="name"/> of a composite batch (the batch itself when it has no parts and the name is its primary).</summary>
    public static TokenBatch Part(TokenBatch tokens, string name) =>
        tokens.Parts is { } p ? (p.TryGetValue(name, out var b) ? b : throw new ArgumentException($"the batch has no part '{name}' (parts: {string.Join(", ", p.Keys)})")) : tokens;

    static Tensor ShownBy(MaskPlan plan, long b, long n, Device device)
    {
        if (plan.Dense is { } dense) return dense.logical_not();
        return zeros(b, n, dtype: ScalarType.Bool, device: device).scatter(1, plan.Visible, ones(plan.Visible.shape, dtype: ScalarType.Bool, device: device));
    }
}

/// <summary>MultiMAE's input adapter for a patch part: a linear patch projection plus the grid's fixed 2-D sin-cos positions.</summary>
public sealed class PatchInputAdapter : nn.Module<TokenBatch, Tensor>
{
    readonly Dense project;
    readonly PositionTable positions;

    public PatchInputAdapter(int patchDim, int dim) : base(nameof(PatchInputAdapter))
    {
        project = new Dense(patchDim, dim);
        positions = new PositionTable(dim);
        RegisterComponents();
    }

    public override Tensor forward(TokenBatch part) => project.forward(part.Tokens).Plus(positions.For(part.Layout, part.Tokens.device));
}

/// <summary>MultiMAE's input adapter for captions: a token embedding plus fixed 1-D sin-cos positions.</summary>
public sealed class TextInputAdapter : nn.Module<TokenBatch, Tensor>
{
    readonly TorchSharp.Modules.Embedding embed;
    readonly PositionTable positions;

    public TextInputAdapter(int vocabulary, int dim) : base(nameof(TextInputAdapter))
    {
        embed = nn.Embedding(vocabulary, dim);
        positions = new PositionTable(dim);
        RegisterComponents();
    }

    public override Tensor forward(TokenBatch part) => embed.forward(part.Tokens.squeeze(-1)).Plus(positions.For(part.Layout, part.Tokens.device));
}

/// <summary>
/// MultiMAE's encoder: one input adapter per part, each part's tokens tagged by a learned modality embedding, one
/// transformer over the visible tokens of all parts (the Dirichlet budget decides how many of each).
/// </summary>
public sealed class MultiMaeEncoder : nn.Module, IEncoder
{
    readonly string[] names;
    readonly nn.Module<TokenBatch, Tensor>[] adapters;
    readonly TorchSharp.Modules.Parameter[] types;
    readonly MaskedTransformer transformer;

    public MultiMaeEncoder(IReadOnlyList<(string Name, nn.Module<TokenBatch, Tensor> Adapter)> inputs, TransformerShape shape) : base(nameof(MultiMaeEncoder))
    {
        Dim = shape.Dim;
        names = inputs.Select(i => i.Name).ToArray();
        adapters = inputs.Select(i => i.Adapter).ToArray();
        types = inputs.Select(_ => nn.Parameter(zeros(1, 1, shape.Dim).normal_(0, 0.02))).ToArray();
        for (int i = 0; i < names.Length; i++)
        {
            register_module($"input_{names[i]}", adapters[i]);
            register_parameter($"type_{names[i]}", types[i]);
        }
        transformer = new MaskedTransformer(shape.Dim, shape.Depth, shape.Heads);
        register_module("transformer", transformer);
    }

    public int Dim { get; }

    /// <summary>The parts in sequence order.</summary>
    public IReadOnlyList<string> Names => names;

    public Encoded Encode(TokenBatch tokens, MaskPlan plan)
    {
        var set = PartsVisible.Of(tokens, plan, names);
        var x = cat(names.Select((n, i) => adapters[i].forward(PartsVisible.Part(tokens, n)).Plus(types[i])).ToArray(), 1);
        return new Encoded(transformer.forward(TokenOps.Gather(x, set.Index), set.Valid));
    }
}

/// <summary>Pre-norm cross-attention of queries over context tokens (invalid context slots ignored), then an MLP.</summary>
public sealed class CrossBlock : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    readonly Norm normQ, normContext, norm2;
    readonly Dense q, kv, proj, fc1, fc2;
    readonly int heads;

    public CrossBlock(int dim, int heads, double mlpRatio = 4.0) : base(nameof(CrossBlock))
    {
        if (dim % heads != 0) throw new ArgumentException($"width {dim} is not divisible by {heads} heads");
        this.heads = heads;
        normQ = new Norm(dim); normContext = new Norm(dim); norm2 = new Norm(dim);
        q = new Dense(dim, dim); kv = new Dense(dim, 2L * dim); proj = new Dense(dim, dim);
        fc1 = new Dense(dim, (long)(dim * mlpRatio)); fc2 = new Dense((long)(dim * mlpRatio), dim);
        RegisterComponents();
    }

    /// <param name="x">queries [B,Nq,D]</param>
    /// <param name="context">[B,Nk,D]</param>
    /// <param name="valid">[B,Nk] bool, true where a context token may be attended to.</param>
    public override Tensor forward(Tensor x, Tensor context, Tensor valid)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], nq = x.shape[1], c = x.shape[2], nk = context.shape[1];
        var qh = q.forward(normQ.forward(x)).view(b, nq, heads, c / heads).transpose(1, 2);
        var kvh = kv.forward(normContext.forward(context)).view(b, nk, 2, heads, c / heads).permute(2, 0, 3, 1, 4).unbind(0);
        var attn = nn.functional.scaled_dot_product_attention(qh, kvh[0], kvh[1], attn_mask: valid.view(b, 1, 1, nk));
        x = x.Plus(proj.forward(attn.transpose(1, 2).reshape(b, nq, c)));
        x = x.Plus(fc2.forward(nn.functional.gelu(fc1.forward(norm2.forward(x)))));
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>
/// MultiMAE's output adapter for one part. Every sequence slot holds its encoded token where it was visible and a mask
/// token elsewhere, plus MultiMAE's context embeddings: its part's learned type embedding and fixed positions. The
/// visible slots are the context; this part's slots are the queries; one cross-attention block over the context, then
/// self-attention blocks over the queries, then a linear head. Positions on both sides let a query find the context
/// token at its own place (an alpha query the RGB token over the same pixels), which a query-only position cannot.
/// </summary>
public sealed class OutputAdapter : nn.Module
{
    readonly Dense context, head;
    readonly TorchSharp.Modules.Parameter maskToken;
    readonly TorchSharp.Modules.ParameterList types;
    readonly CrossBlock cross;
    readonly MaskedTransformer blocks;
    readonly PositionTable positions;

    public OutputAdapter(int encoderDim, int outDim, int parts, TransformerShape shape) : base(nameof(OutputAdapter))
    {
        context = new Dense(encoderDim, shape.Dim);
        maskToken = nn.Parameter(zeros(1, 1, shape.Dim).normal_(0, 0.02));
        types = nn.ParameterList(Enumerable.Range(0, parts).Select(_ => nn.Parameter(zeros(1, 1, shape.Dim).normal_(0, 0.02))).ToArray());
        cross = new CrossBlock(shape.Dim, shape.Heads);
        blocks = new MaskedTransformer(shape.Dim, shape.Depth, shape.Heads);
        head = new Dense(shape.Dim, outDim);
        positions = new PositionTable(shape.Dim);
        RegisterComponents();
    }

    /// <summary>Predictions [B,n,outDim] for every token of the <paramref name="p"/>-th of <paramref name="parts"/> (in <paramref name="set"/>'s order).</summary>
    public Tensor Forward(Tensor latent, PartsVisible set, IReadOnlyList<TokenBatch> parts, int p)
    {
        long b = latent.shape[0], n = parts[p].TokenCount;
        var ctx = context.forward(latent);
        long d = ctx.shape[2];
        var mask = maskToken.to_type(ctx.dtype);
        var filled = where(set.Valid.unsqueeze(-1), ctx, mask.expand_as(ctx));
        var full = mask.expand(b, set.Total, d).clone().scatter(1, set.Index.unsqueeze(-1).expand(-1, -1, d), filled);
        var embeddings = cat(parts.Select((part, i) => positions.For(part.Layout, latent.device).Plus(types[i])).ToArray(), 1);
        full = full.Plus(embeddings);
        var queries = full[.., (int)set.Offsets[p]..(int)(set.Offsets[p] + n)];
        var h = cross.forward(queries, TokenOps.Gather(full, set.Index), set.Valid);
        var keys = parts[p].Padding is { } pad ? pad.logical_not() : ones(b, n, dtype: ScalarType.Bool, device: latent.device);
        return head.forward(blocks.forward(h, keys));
    }
}

/// <summary>What the output adapters predict for a batch: RGB patches, alpha logits per pixel, caption logits.</summary>
public sealed record MultiMaePrediction(Tensor Image, Tensor AlphaLogits, Tensor TextLogits);

/// <summary>
/// MultiMAE's objective: one output adapter per part, losses summed — MSE on the masked RGB patches (norm-pix optional),
/// binary cross-entropy (or MSE) on the masked alpha patches, cross-entropy on the masked non-padding caption tokens —
/// each a mean of per-sample means over that sample's masked tokens (a sample with none of a part masked adds 0).
/// </summary>
public sealed class MultiMaeObjective : nn.Module, IObjective
{
    public static readonly string[] PartNames = ["image", "alpha", "text"];

    readonly OutputAdapter imageOut, alphaOut, textOut;
    readonly bool normPix, alphaBce;
    readonly double imageWeight, alphaWeight, textWeight;
    readonly object last = new();

    public MultiMaeObjective(int encoderDim, int imagePatchDim, int alphaPatchDim, int vocabulary, TransformerShape adapter, bool normPix, bool alphaBce,
        double imageWeight = 1, double alphaWeight = 1, double textWeight = 1) : base(nameof(MultiMaeObjective))
    {
        imageOut = new OutputAdapter(encoderDim, imagePatchDim, PartNames.Length, adapter);
        alphaOut = new OutputAdapter(encoderDim, alphaPatchDim, PartNames.Length, adapter);
        textOut = new OutputAdapter(encoderDim, vocabulary, PartNames.Length, adapter);
        this.normPix = normPix; this.alphaBce = alphaBce;
        this.imageWeight = imageWeight; this.alphaWeight = alphaWeight; this.textWeight = textWeight;
        RegisterComponents();
    }

    /// <summary>Predicted caption ids [B,Nt] and alpha probabilities [B,Na,P] of the last <see cref="Compute"/> (pictures), detached on the CPU.</summary>
    public (Tensor Text, Tensor Alpha)? Last { get; private set; }

    /// <summary>Every output adapter's prediction (no loss).</summary>
    public MultiMaePrediction Predict(TokenBatch tokens, MaskPlan plan, Encoded encoded, out PartsVisible set)
    {
        set = PartsVisible.Of(tokens, plan, PartNames);
        var parts = PartNames.Select(n => PartsVisible.Part(tokens, n)).ToArray();
        return new MultiMaePrediction(
            imageOut.Forward(encoded.Latent, set, parts, 0),
            alphaOut.Forward(encoded.Latent, set, parts, 1),
            textOut.Forward(encoded.Latent, set, parts, 2));
    }

    static Tensor PerSampleMean(Tensor perToken, Tensor hidden)
    {
        var m = hidden.to_type(ScalarType.Float32);
        return perToken.mul(m).sum(1).div(m.sum(1).clamp_min(Held.One));
    }

    public ObjectiveResult Compute(TokenBatch tokens, MaskPlan plan, Encoded encoded)
    {
        using var s = new HeldScalars(); // runs on slice workers: no temporary Scalars (Held.cs)
        var image = PartsVisible.Part(tokens, "image");
        var alpha = PartsVisible.Part(tokens, "alpha");
        var text = PartsVisible.Part(tokens, "text");
        var pred = Predict(tokens, plan, encoded, out var set);
        long b = image.BatchSize, nt = text.TokenCount;

        var target = image.Tokens;
        Tensor? mu = null, sd = null;
        if (normPix) (target, mu, sd) = PatchNorm.NormPix(target);
        var predImage = pred.Image.to_type(ScalarType.Float32);
        var imageLoss = PerSampleMean(predImage.sub(target).Squared().mean([-1]), set.Shown[0].logical_not()).mean();

        var alphaLogits = pred.AlphaLogits.to_type(ScalarType.Float32);
        var alphaTarget = alpha.Tokens.clamp(s[0], s[1]);
        var perAlpha = alphaBce
            ? nn.functional.binary_cross_entropy_with_logits(alphaLogits, alphaTarget, reduction: nn.Reduction.None).mean([-1])
            : alphaLogits.sigmoid().sub(alphaTarget).Squared().mean([-1]);
        var alphaLoss = PerSampleMean(perAlpha, set.Shown[1].logical_not()).mean();

        var logits = pred.TextLogits.to_type(ScalarType.Float32);
        var ids = text.Tokens.squeeze(-1);
        var hiddenText = set.Shown[2].logical_not();
        if (text.Padding is { } pad) hiddenText = hiddenText.logical_and(pad.logical_not());
        var ce = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[2]), ids.reshape(-1), reduction: nn.Reduction.None).view(b, nt);
        var textLoss = PerSampleMean(ce, hiddenText).mean();

        var loss = imageLoss.mul(s[imageWeight]).Plus(alphaLoss.mul(s[alphaWeight])).Plus(textLoss.mul(s[textWeight]));
        var predicted = logits.argmax(-1);
        var m = hiddenText.to_type(ScalarType.Float32);
        var metrics = new Dictionary<string, Tensor>
        {
            ["image_mse"] = imageLoss.detach(), ["alpha_loss"] = alphaLoss.detach(), ["text_ce"] = textLoss.detach(),
            ["text_acc"] = predicted.eq(ids).to_type(ScalarType.Float32).mul(m).sum().div(m.sum().clamp_min(s[1])).detach(),
        };
        var lastText = predicted.detach().cpu();
        var lastAlpha = alphaLogits.detach().sigmoid().cpu();
        lastText.DetachFromDisposeScope(); lastAlpha.DetachFromDisposeScope();
        lock (last) // slices run on two workers
        {
            if (Last is { } old) { old.Text.Dispose(); old.Alpha.Dispose(); }
            Last = (lastText, lastAlpha);
        }

        var recon = predImage.detach();
        if (normPix) recon = recon.mul(sd!).Plus(mu!);
        return new ObjectiveResult(loss) { Metrics = metrics, Reconstruction = recon };
    }
}
