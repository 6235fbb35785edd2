using Maskwork.Backend.Nn;
using Maskwork.Abstractions;
using static TorchSharp.torch;

namespace Maskwork.Plugins.PointCloud.Tokenization;

/// <summary>
/// Point clouds [n, C≥3] → Point-MAE group tokens. Each cloud is resampled to
/// <see cref="Points"/> points (an even stride through the file order; clouds with fewer points
/// repeat points), centred on its centroid and scaled into the unit ball; optionally augmented
/// (while <see cref="AugmentWhile"/> says so: during training). Then, all batched tensor ops on
/// the device: <see cref="Groups"/> centres by farthest-point sampling and the
/// <see cref="GroupSize"/> nearest points of each, relative to their centre.
/// Tokens [B,G,K·3] are the flattened neighbourhoods, <see cref="TokenBatch.Positions"/> [B,G,3] the
/// centres, the layout a <see cref="PointLayout"/>. Extras: <c>points</c> [B,N,3] (the normalised
/// cloud), <c>cloud_center</c> [B,1,3] and <c>cloud_scale</c> [B,1,1] (undone by <see cref="Detokenize"/>).
/// Only x, y, z are used; further columns (normals, colour) are ignored.
/// </summary>
public sealed class PointGroupTokenizer : ITokenizer
{
    public PointGroupTokenizer(int points, int groups, int groupSize, PointAugment? augment = null)
    {
        if (points < 1 || groups < 1 || groupSize < 1) throw new ArgumentException("points, groups and group size must be positive");
        if (groups > points) throw new ArgumentException($"{groups} groups need at least as many points, not {points}");
        if (groupSize > points) throw new ArgumentException($"groups of {groupSize} need at least as many points, not {points}");
        Points = points; Groups = groups; GroupSize = groupSize; Augment = augment;
    }

    public int Points { get; }
    public int Groups { get; }
    public int GroupSize { get; }
    public int TokenDim => GroupSize * 3;
    public PointAugment? Augment { get; }
    public PointLayout Layout => new(Groups, 3);

    /// <summary>When to augment (the recipe wires the encoder's training flag); never when null.</summary>
    public Func<bool>? AugmentWhile { get; set; }

    /// <summary>The fixed-size, unnormalised xyz of a batch [B,N,3] (CPU), before any normalisation.</summary>
    public Tensor Resample(IReadOnlyList<Sample> batch)
    {
        var clouds = new Tensor[batch.Count];
        using var scope = NewDisposeScope();
        for (int i = 0; i < batch.Count; i++)
        {
            var s = batch[i];
            if (s.Shape.Length != 2 || s.Shape[0] < 1 || s.Shape[1] < 3 || (long)s.Shape[0] * s.Shape[1] != s.Values.Length)
                throw new InvalidDataFileException(s.Source, $"a point cloud must have shape [N, C≥3] with N·C values; got [{string.Join(',', s.Shape)}] and {s.Values.Length} values");
            long n = s.Shape[0];
            var xyz = tensor(s.Values, [n, s.Shape[1]]).narrow(1, 0, 3);
            // Even stride through the points: point floor((j + ½)·n/N) for j < N.
            var index = ((arange(Points, dtype: ScalarType.Float64) + 0.5) * ((double)n / Points)).floor().clamp(0, n - 1).to_type(ScalarType.Int64);
            clouds[i] = xyz.index_select(0, index);
        }
        return stack(clouds, 0).MoveToOuterDisposeScope();
    }

    public TokenBatch Tokenize(IReadOnlyList<Sample> batch, Device device)
    {
        if (batch.Count == 0) throw new ArgumentException("empty batch");
        long b = batch.Count;
        var points = Resample(batch).to(device);
        var center = points.mean([1L], keepdim: true);
        points = points - center;
        var scale = points.Squared().sum(-1).sqrt().amax([1L], keepdim: true).unsqueeze(-1).clamp_min(1e-8); // [B,1,1]
        points = points / scale;
        if (Augment is not null && AugmentWhile?.Invoke() == true) points = Augment.Apply(points);

        var (centres, neighbourhoods, _) = PointGroups.Group(points, Groups, GroupSize);
        var tokens = neighbourhoods.reshape(b, Groups, TokenDim);

        Tensor? labels = null;
        if (batch.All(s => s.Label is not null)) labels = tensor(batch.Select(s => (long)s.Label!.Value).ToArray(), device: device);
        return new TokenBatch(tokens, Layout)
        {
            Positions = centres,
            Labels = labels,
            Extras = new Dictionary<string, Tensor> { ["points"] = points, ["cloud_center"] = center, ["cloud_scale"] = scale },
        };
    }

    /// <summary>Group tokens [B,G,K·3] back to the grouped points [B,G·K,3] in the input's own coordinates.</summary>
    public Tensor Detokenize(Tensor tokens, TokenBatch like)
    {
        var positions = like.Positions ?? throw new ArgumentException("point tokens need their centres (TokenBatch.Positions)");
        long b = tokens.shape[0], g = tokens.shape[1];
        var grouped = tokens.reshape(b, g, GroupSize, 3) + positions.unsqueeze(2);
        var points = grouped.reshape(b, g * GroupSize, 3);
        return like.Extras.TryGetValue("cloud_scale", out var scale) && like.Extras.TryGetValue("cloud_center", out var center)
            ? points * scale + center
            : points;
    }
}
