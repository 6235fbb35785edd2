using System.Globalization;
using Maskwork.Abstractions;
using Maskwork.Backend.Nn;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Volume.Preprocessing;

/// <summary>How intensities are normalised.</summary>
public enum IntensityMode { None, Ct, Mr }

/// <summary>
/// The deterministic preprocessing a reader applies once per volume (from <c>data.*</c> options, which the recipe
/// fills in): reorient to RAS, resample to a spacing, CT window or MR z-score, foreground crop.
/// </summary>
public sealed record VolumePreprocess
{
    /// <summary>Reorient to RAS from the affine (data.reorient).</summary>
    public bool Reorient { get; init; } = true;
    /// <summary>Target spacing in mm along x, y, z; 0 keeps an axis (data.spacing: "2" or "1.5,1.5,2"; "0" keeps all).</summary>
    public double[] Spacing { get; init; } = [0, 0, 0];
    /// <summary>data.intensity: none | ct | mr.</summary>
    public IntensityMode Intensity { get; init; } = IntensityMode.None;
    /// <summary>CT window [low, high] in HU (data.window: a preset name or "low,high").</summary>
    public (double Low, double High) Window { get; init; } = Windows["abdomen"];
    /// <summary>Crop to the bounding box of the foreground (data.foreground): MR non-zero, CT above the window's low end, otherwise above the minimum.</summary>
    public bool ForegroundCrop { get; init; }
    /// <summary>Voxels kept around the foreground box (data.foreground_margin).</summary>
    public int ForegroundMargin { get; init; } = 2;

    /// <summary>CT window presets in HU: abdomen is SelfMedMAE's BTCV range; the others the usual radiology windows (level ± width / 2).</summary>
    public static readonly IReadOnlyDictionary<string, (double Low, double High)> Windows = new Dictionary<string, (double, double)>
    {
        ["abdomen"] = (-175, 250),        // SelfMedMAE / UNETR BTCV
        ["soft-tissue"] = (-160, 240),    // L40 W400
        ["brain"] = (0, 80),              // L40 W80
        ["lung"] = (-1350, 150),          // L−600 W1500
        ["bone"] = (-500, 1300),          // L400 W1800
        ["liver"] = (-45, 105),           // L30 W150
    };

    public static readonly string[] Keys = ["reorient", "spacing", "intensity", "window", "foreground", "foreground_margin"];

    public static VolumePreprocess From(DataSpec spec)
    {
        var p = new VolumePreprocess();
        if (spec.Options.TryGetValue("reorient", out var r)) p = p with { Reorient = Bool(r, "reorient") };
        if (spec.Options.TryGetValue("spacing", out var s)) p = p with { Spacing = ParseSpacing(s) };
        if (spec.Options.TryGetValue("intensity", out var i))
            p = p with
            {
                Intensity = i.ToLowerInvariant() switch
                {
                    "none" => IntensityMode.None, "ct" => IntensityMode.Ct, "mr" => IntensityMode.Mr,
                    _ => throw new ArgumentException($"data.intensity must be none, ct or mr, got '{i}'"),
                },
            };
        if (spec.Options.TryGetValue("window", out var w)) p = p with { Window = ParseWindow(w) };
        if (spec.Options.TryGetValue("foreground", out var f)) p = p with { ForegroundCrop = Bool(f, "foreground") };
        if (spec.Options.TryGetValue("foreground_margin", out var m))
            p = p with { ForegroundMargin = int.TryParse(m, CultureInfo.InvariantCulture, out int mm) && mm >= 0 ? mm : throw new ArgumentException($"data.foreground_margin must be a non-negative integer, got '{m}'") };
        return p;
    }

    public static (double Low, double High) ParseWindow(string text)
    {
        if (Windows.TryGetValue(text.ToLowerInvariant(), out var preset)) return preset;
        var parts = text.Split(',');
        if (parts.Length == 2 && double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out double lo)
            && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double hi) && hi > lo)
            return (lo, hi);
        throw new ArgumentException($"data.window must be a preset ({string.Join(", ", Windows.Keys)}) or 'low,high' with low < high, got '{text}'");
    }

    public static double[] ParseSpacing(string text)
    {
        if (text is "" or "none") return [0, 0, 0];
        var parts = text.Split(',');
        var values = parts.Select(t => double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v >= 0 && double.IsFinite(v)
            ? v : throw new ArgumentException($"data.spacing must be one or three non-negative numbers in mm (e.g. 2 or 1.5,1.5,2), got '{text}'")).ToArray();
        return values.Length switch
        {
            1 => [values[0], values[0], values[0]],
            3 => values,
            _ => throw new ArgumentException($"data.spacing needs one or three values, got '{text}'"),
        };
    }

    static bool Bool(string text, string key) => bool.TryParse(text, out bool b) ? b : throw new ArgumentException($"data.{key} must be true or false, got '{text}'");

    /// <summary>Applies the steps to an image and, on the same grid, its label map (nearest resampling, same crop).</summary>
    public (GridVolume Image, GridVolume? Labels) Apply(GridVolume image, GridVolume? labels)
    {
        if (Reorient)
        {
            image = VolumeOps.ReorientToRas(image);
            if (labels is not null) labels = VolumeOps.ReorientToRas(labels);
        }
        if (Spacing.Any(s => s > 0))
        {
            image = VolumeOps.Resample(image, Spacing, nearest: false);
            if (labels is not null) labels = VolumeOps.Resample(labels, Spacing, nearest: true);
        }
        using var k = new HeldScalars();
        var raw = image.Data;
        Tensor foreground = Intensity switch
        {
            IntensityMode.Mr => raw.ne(k[0]),
            IntensityMode.Ct => raw.gt(k[Window.Low]),
            _ => raw.gt(raw.min()),
        };
        var data = Intensity switch
        {
            IntensityMode.Ct => VolumeOps.Window(raw, Window.Low, Window.High),
            IntensityMode.Mr => VolumeOps.ZScoreNonZero(raw),
            _ => raw,
        };
        image = image with { Data = data };
        if (ForegroundCrop && VolumeOps.ForegroundBox(foreground, ForegroundMargin) is { } box)
        {
            image = VolumeOps.Crop(image, box.Start, box.Length);
            if (labels is not null) labels = VolumeOps.Crop(labels, box.Start, box.Length);
        }
        return (image, labels);
    }
}
