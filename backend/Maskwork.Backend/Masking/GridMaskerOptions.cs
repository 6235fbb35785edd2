using System.ComponentModel;
using Maskwork.Abstractions;

namespace Maskwork.Backend.Masking;

/// <summary>
/// The masker options every grid recipe shares: a recipe's options record derives from this one, so any
/// grid recipe accepts any grid masker with the same names (<c>--set model.masker=noise --set model.noise=green</c>).
/// <see cref="Build"/> turns them into the masker and refuses unknown names, listing the known ones.
/// </summary>
public record GridMaskerOptions
{
    /// <summary>Known <see cref="Masker"/> values.</summary>
    public static readonly IReadOnlyList<string> Maskers = ["random", "block", "tube", "noise", "guided"];

    /// <summary>Known <see cref="MaskSchedule"/> values.</summary>
    public static readonly IReadOnlyList<string> Schedules = ["constant", "linear", "cosine"];

    /// <summary>Known <see cref="Noise"/> values.</summary>
    public static readonly IReadOnlyList<string> Colors = ["white", "red", "blue", "green", "purple"];

    /// <summary>Known <see cref="GuidedHide"/> values.</summary>
    public static readonly IReadOnlyList<string> GuidedHides = ["hardest", "easiest"];

    /// <summary>Known <see cref="DecoderMasker"/> values.</summary>
    public static readonly IReadOnlyList<string> DecoderMaskers = ["none", "running-cell"];

    [Description("what to hide: random (MAE) | block (BEiT boxes, NeRF-MAE cubes) | tube (one spatial mask over time) | noise (ColorMAE) | guided (by a per-token score)")]
    public string Masker { get; init; } = "random";

    [Description("share of tokens hidden, in [0, 1) (at step 0 when scheduled)")]
    public double MaskRatio { get; init; } = 0.75;

    [Description("share hidden at the last step when mask_schedule is linear or cosine; null = mask_ratio")]
    public double? MaskRatioEnd { get; init; }

    [Description("how the ratio moves from mask_ratio to mask_ratio_end: constant | linear | cosine")]
    public string MaskSchedule { get; init; } = "constant";

    [Description("block masker: smallest box aspect ratio (BEiT 0.3; 1 = squares/cubes)")]
    public double BlockAspect { get; init; } = 0.3;

    [Description("block masker: side of fixed k×k(×k) token cubes (NeRF-MAE); 0 = BEiT's random boxes")]
    public int BlockTokens { get; init; }

    [Description("noise masker colour: white | red (low-pass) | blue (high-pass) | green (band-pass) | purple (band-stop)")]
    public string Noise { get; init; } = "green";

    [Description("noise masker: pre-generated patterns cropped and flipped per sample (ColorMAE; measured cheaper, bench masker-noise); 0 = a fresh field per sample")]
    public int NoiseBank { get; init; } = 256;

    [Description("guided masker: hide the hardest (highest-scored) or easiest tokens")]
    public string GuidedHide { get; init; } = "hardest";

    [Description("guided masker: softmax temperature of the choice; 0 = exactly the top-scored")]
    public double GuidedTemperature { get; init; }

    [Description("guided masker: share of the masked tokens chosen by score at step 0 (the rest random)")]
    public double GuidedFraction { get; init; } = 1.0;

    [Description("guided masker: that share at the last step (linear; HPM's easy-to-hard 0 → 0.5); null = guided_fraction")]
    public double? GuidedFractionEnd { get; init; }

    [Description("decoder mask (VideoMAE V2): none | running-cell (the loss counts tokens masked by the encoder and kept by the decoder)")]
    public string DecoderMasker { get; init; } = "none";

    [Description("running-cell decoder mask ratio: 0.25 | 0.5 | 0.75")]
    public double DecoderMaskRatio { get; init; } = 0.5;

    /// <summary>The mask ratio over the run.</summary>
    public MaskRatio Ratio() => new(MaskRatio, MaskRatioEnd, Parse<MaskSchedule>("mask_schedule", MaskSchedule, Schedules));

    /// <summary>Builds the masker these options name; unknown names and bad values throw <see cref="ArgumentException"/> listing the known ones.</summary>
    public IMasker Build()
    {
        var ratio = Ratio();
        foreach (var (name, v) in new[] { ("mask_ratio", (double?)MaskRatio), ("mask_ratio_end", MaskRatioEnd) })
            if (v is < 0 or >= 1) throw new ArgumentException($"model.{name} is {v}: use a share in [0, 1)");
        IMasker masker = Masker switch
        {
            "random" => new RandomMasker(ratio),
            "block" => new BlockMasker(MaskRatio) { Schedule = ratio, Aspect = BlockAspect is > 0 and <= 1 ? BlockAspect : throw new ArgumentException($"model.block_aspect is {BlockAspect}: use a value in (0, 1]"), CubeSide = BlockTokens >= 0 ? BlockTokens : throw new ArgumentException("model.block_tokens must be ≥ 0") },
            "tube" => new TubeMasker(new RandomMasker(ratio)),
            "noise" => new NoiseMasker(ratio, Parse<NoiseColor>("noise", Noise, Colors)) { BankSize = NoiseBank >= 0 ? NoiseBank : throw new ArgumentException("model.noise_bank must be ≥ 0") },
            "guided" => new GuidedMasker(ratio, Parse<GuidedHide>("guided_hide", GuidedHide, GuidedHides), GuidedTemperature >= 0 ? GuidedTemperature : throw new ArgumentException("model.guided_temperature must be ≥ 0"))
            {
                Fraction = new MaskRatio(GuidedFraction, GuidedFractionEnd, GuidedFractionEnd is null ? Masking.MaskSchedule.Constant : Masking.MaskSchedule.Linear),
            },
            _ => throw Unknown("masker", Masker, Maskers),
        };
        return DecoderMasker switch
        {
            "none" => masker,
            "running-cell" => new DecoderMasked(masker, new RunningCellMasker(DecoderMaskRatio is 0.25 or 0.5 or 0.75 ? DecoderMaskRatio : throw new ArgumentException($"model.decoder_mask_ratio is {DecoderMaskRatio}: running-cell takes 0.25, 0.5 or 0.75"))),
            _ => throw Unknown("decoder_masker", DecoderMasker, DecoderMaskers),
        };
    }

    static T Parse<T>(string option, string value, IReadOnlyList<string> known) where T : struct, Enum
    {
        int i = known.ToList().IndexOf(value);
        if (i < 0) throw Unknown(option, value, known);
        return Enum.Parse<T>(value.Replace("-", ""), ignoreCase: true);
    }

    static ArgumentException Unknown(string option, string value, IReadOnlyList<string> known) =>
        new($"model.{option} '{value}' is not known; known: {string.Join(", ", known)}");
}
