using Maskwork.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace Maskwork.Backend.Masking;

/// <summary>
/// Masks a composite batch (<see cref="TokenBatch.Parts"/>) part by part, splitting the visible tokens across
/// modalities: fixed per-part mask ratios (M3AE: image 0.75, text 0.75) or a visible budget K split per sample by a
/// Dirichlet(α) draw, optionally over a random non-empty subset of the parts (MultiMAE). Only real tokens count:
/// padding is never visible, never masked and never part of a budget. Every draw is keyed by (seed, step, sample
/// key) through <see cref="MaskRandom"/>, like the single-modality maskers, so a sample's mask does not depend on
/// its batch. The plan has one plan per part in <see cref="MaskPlan.Parts"/> (index sets when every sample shows the
/// same count of a part, else dense) and the primary part's plan as its own.
/// </summary>
public sealed class BudgetMasker : IMasker
{
    readonly string[] parts;
    readonly double[]? ratios, alphas;

    BudgetMasker(string[] parts, double[]? ratios, double[]? alphas, int budget, bool sampleSubsets)
    {
        if (parts.Length == 0) throw new ArgumentException("a budget masker needs at least one part");
        this.parts = parts; this.ratios = ratios; this.alphas = alphas; Budget = budget; SampleSubsets = sampleSubsets;
    }

    /// <summary>M3AE: each part keeps MAE's int(n·(1−ratio)) (at least one) of its n real tokens visible.</summary>
    public static BudgetMasker FixedRatios(IReadOnlyList<(string Part, double Ratio)> ratios)
    {
        foreach (var (p, r) in ratios)
            if (r is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(ratios), r, $"mask ratio of part '{p}' must be in [0, 1)");
        return new(ratios.Select(r => r.Part).ToArray(), ratios.Select(r => r.Ratio).ToArray(), null, 0, false);
    }

    /// <summary>
    /// MultiMAE: <paramref name="budget"/> visible tokens per sample split by shares drawn from Dirichlet(<paramref name="alphas"/>)
    /// (one α per part), rounded by largest remainder and capped by each part's real tokens (the surplus goes to parts with room,
    /// largest share first), so every sample shows exactly min(K, its real tokens). With <paramref name="sampleSubsets"/> a
    /// uniformly drawn non-empty subset of the parts gets the shares (the others are fully masked unless the budget overflows).
    /// </summary>
    public static BudgetMasker Dirichlet(IReadOnlyList<string> parts, IReadOnlyList<double> alphas, int budget, bool sampleSubsets = false)
    {
        if (alphas.Count != parts.Count) throw new ArgumentException($"{alphas.Count} Dirichlet alphas for {parts.Count} parts");
        if (alphas.Any(a => !(a > 0) || double.IsInfinity(a))) throw new ArgumentOutOfRangeException(nameof(alphas), "Dirichlet alphas must be positive");
        if (budget <= 0) throw new ArgumentOutOfRangeException(nameof(budget), budget, "the visible budget must be positive");
        return new(parts.ToArray(), null, alphas.ToArray(), budget, sampleSubsets);
    }

    /// <summary>Parts in the order the masker draws them.</summary>
    public IReadOnlyList<string> PartNames => parts;

    /// <summary>Visible tokens per sample for a Dirichlet masker (0 for fixed ratios).</summary>
    public int Budget { get; }

    /// <summary>Whether a Dirichlet masker draws a random subset of parts per sample.</summary>
    public bool SampleSubsets { get; }

    public MaskPlan Plan(TokenBatch tokens, MaskContext context)
    {
        var byPart = PartsOf(tokens);
        var counts = VisibleCounts(tokens, context);
        var random = MaskRandom.For(tokens, context);
        var plans = new Dictionary<string, MaskPlan>(StringComparer.Ordinal);
        string primary = parts.FirstOrDefault(p => ReferenceEquals(byPart[p].Tokens, tokens.Tokens)) ?? parts[0];
        for (int p = 0; p < parts.Length; p++)
            plans[parts[p]] = PartPlan(byPart[parts[p]], random.Uniform(100 + p, byPart[parts[p]].TokenCount), Column(counts, p));
        var own = plans[primary];
        return own with { Parts = plans };
    }

    static long[] Column(long[,] m, int c)
    {
        var r = new long[m.GetLength(0)];
        for (int i = 0; i < r.Length; i++) r[i] = m[i, c];
        return r;
    }

    /// <summary>The lowest-noise <paramref name="visible"/>[b] real tokens of each sample stay visible; the other real tokens are masked.</summary>
    static MaskPlan PartPlan(TokenBatch part, Tensor noise, long[] visible)
    {
        var device = part.Tokens.device;
        if (part.Padding is { } pad)
        {
            using var two = 2.0.ToScalar(); // held: implicit Scalars may be finalised mid-call
            noise = noise.masked_fill(pad, two);
        }
        var order = noise.argsort(1);
        bool uniform = visible.All(v => v == visible[0]);
        bool padded = part.Padding is { } p && p.any().item<bool>();
        if (uniform && !padded)
        {
            int v = (int)visible[0];
            return new MaskPlan(order[.., ..v], order[.., v..]);
        }
        var ranks = order.argsort(1);
        var shown = ranks.lt(tensor(visible, device: device).unsqueeze(1));
        var masked = shown.logical_not();
        if (part.Padding is { } padding) masked = masked.logical_and(padding.logical_not());
        return MaskPlan.FromDense(masked);
    }

    Dictionary<string, TokenBatch> PartsOf(TokenBatch tokens)
    {
        if (tokens.Parts is not { } p) throw new ArgumentException($"the budget masker needs a batch with parts {string.Join(", ", parts)}; this batch has none (a single-modality recipe wants a single-modality masker)");
        var result = new Dictionary<string, TokenBatch>(StringComparer.Ordinal);
        foreach (var name in parts)
            result[name] = p.TryGetValue(name, out var b) ? b : throw new ArgumentException($"the batch has no part '{name}' (parts: {string.Join(", ", p.Keys)})");
        return result;
    }

    /// <summary>Visible tokens per sample and part [B, parts] (parts in <see cref="PartNames"/> order).</summary>
    public long[,] VisibleCounts(TokenBatch tokens, MaskContext context)
    {
        var byPart = PartsOf(tokens);
        int b = (int)tokens.BatchSize, n = parts.Length;
        var real = new long[b, n];
        for (int p = 0; p < n; p++)
        {
            using var c = TokenParts.RealCounts(byPart[parts[p]]).cpu();
            var values = c.data<long>().ToArray();
            for (int i = 0; i < b; i++) real[i, p] = values[i];
        }
        var counts = new long[b, n];
        if (ratios is not null)
        {
            for (int i = 0; i < b; i++)
                for (int p = 0; p < n; p++)
                    counts[i, p] = real[i, p] == 0 ? 0 : MaskBudget.Visible(real[i, p], ratios[p]);
            return counts;
        }
        using var bits = MaskRandom.For(tokens, context).Bits(77, 2).cpu();
        var raw = bits.data<long>().ToArray();
        var share = new double[n];
        var row = new long[n];
        var cap = new long[n];
        for (int i = 0; i < b; i++)
        {
            ulong state = ((ulong)raw[2 * i] << 32) | (ulong)raw[2 * i + 1];
            Shares(alphas!, SampleSubsets, ref state, share);
            for (int p = 0; p < n; p++) cap[p] = real[i, p];
            Split(share, Budget, cap, row);
            for (int p = 0; p < n; p++) counts[i, p] = row[p];
        }
        return counts;
    }

    /// <summary>One Dirichlet(α) draw into <paramref name="share"/> (normalised gammas), zeroed outside a random non-empty subset when asked.</summary>
    public static void Shares(IReadOnlyList<double> alphas, bool subset, ref ulong state, double[] share)
    {
        int n = alphas.Count;
        long keep = subset ? 1 + (long)(Uniform(ref state) * ((1L << n) - 1)) : (1L << n) - 1;
        keep = Math.Clamp(keep, 1, (1L << n) - 1);
        double sum = 0;
        for (int p = 0; p < n; p++)
        {
            share[p] = (keep >> p & 1) == 1 ? Gamma(alphas[p], ref state) : 0;
            sum += share[p];
        }
        if (!(sum > 0)) // every gamma underflowed (tiny α): one part of the subset takes all
        {
            int pick = Enumerable.Range(0, n).Where(p => (keep >> p & 1) == 1).First();
            for (int p = 0; p < n; p++) share[p] = p == pick ? 1 : 0;
            return;
        }
        for (int p = 0; p < n; p++) share[p] /= sum;
    }

    /// <summary>Largest-remainder split of min(<paramref name="budget"/>, Σcap) by <paramref name="share"/>, capped by <paramref name="cap"/>; the surplus goes to parts with room, largest share first.</summary>
    public static void Split(IReadOnlyList<double> share, int budget, IReadOnlyList<long> cap, long[] counts)
    {
        int n = share.Count;
        long total = Math.Min(budget, cap.Sum());
        long given = 0;
        for (int p = 0; p < n; p++) { counts[p] = (long)Math.Floor(share[p] * total); given += counts[p]; }
        foreach (int p in Enumerable.Range(0, n).OrderByDescending(p => share[p] * total - counts[p]).ThenBy(p => p))
        {
            if (given >= total) break;
            counts[p]++; given++;
        }
        long surplus = 0;
        for (int p = 0; p < n; p++)
            if (counts[p] > cap[p]) { surplus += counts[p] - cap[p]; counts[p] = cap[p]; }
        foreach (int p in Enumerable.Range(0, n).OrderByDescending(p => share[p]).ThenBy(p => p))
        {
            if (surplus == 0) break;
            long add = Math.Min(surplus, cap[p] - counts[p]);
            counts[p] += add; surplus -= add;
        }
    }

    static ulong Next(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    static double Uniform(ref ulong state) => (Next(ref state) >> 11) * (1.0 / (1UL << 53));

    static double Normal(ref ulong state)
    {
        double u1 = 1.0 - Uniform(ref state), u2 = Uniform(ref state);
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>Gamma(α, 1) by Marsaglia and Tsang (2000); α &lt; 1 through Gamma(α+1)·U^(1/α).</summary>
    static double Gamma(double alpha, ref ulong state)
    {
        if (alpha < 1) return Gamma(alpha + 1, ref state) * Math.Pow(1.0 - Uniform(ref state), 1 / alpha);
        double d = alpha - 1.0 / 3, c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double x = Normal(ref state), v = 1 + c * x;
            if (v <= 0) continue;
            v = v * v * v;
            double u = 1.0 - Uniform(ref state);
            if (u < 1 - 0.0331 * x * x * x * x || Math.Log(u) < 0.5 * x * x + d * (1 - v + Math.Log(v))) return d * v;
        }
    }
}
