using Maskwork.Abstractions;
using Maskwork.Backend.Visuals;
using Maskwork.Plugins.VisionLanguage.Text;
using static TorchSharp.torch;

namespace Maskwork.Plugins.VisionLanguage.Recipes;

/// <summary>
/// One row per sample: input | masked | reconstruction, then the caption three ways: as read, as the encoder saw it
/// (hidden tokens as ▢), and with the predicted words in the hidden places (in brackets).
/// </summary>
public sealed class CaptionRenderer(TextTokenizer text, M3aeObjective objective, int scale = 3) : IReconstructionRenderer
{
    public (int Height, int Width, byte[] Rgb) Render(TokenBatch tokens, MaskPlan plan, Tensor reconstruction, ITokenizer tokenizer)
    {
        using var scope = NewDisposeScope();
        var image = tokens.Parts!["image"];
        var set = VisibleSet.Of(tokens, plan);
        var original = tokenizer.Detokenize(image.Tokens, tokens).cpu().clamp(0, 1);
        var hidden = set.ShowImage.logical_not().to_type(ScalarType.Float32).unsqueeze(-1).expand_as(image.Tokens);
        var zero = tokenizer.Detokenize(zeros_like(hidden), tokens);
        var pixelMask = (tokenizer.Detokenize(hidden, tokens) - zero).div(tokenizer.Detokenize(ones_like(hidden), tokens) - zero).cpu().round().clamp(0, 1);
        var recon = tokenizer.Detokenize(reconstruction, tokens).cpu().clamp(0, 1);
        var masked = original * (1 - pixelMask) + 0.5 * pixelMask;
        var pasted = original * (1 - pixelMask) + recon * pixelMask;

        var ids = tokens.Parts["text"].Tokens.squeeze(-1).cpu();
        var shownText = set.ShowText.cpu();
        var predicted = objective.LastText;

        int b = (int)original.shape[0];
        var sheet = new Sheet(b, 4) { Scale = 1, Title = "vl/m3ae reconstructions: the caption as read, as the encoder saw it (▢ hidden), and with the hidden tokens predicted [in brackets]" };
        sheet.ColumnLabels[0] = "input";
        sheet.ColumnLabels[1] = $"masked ({hidden.mean().item<float>():P0} hidden)";
        sheet.ColumnLabels[2] = "reconstruction";
        sheet.ColumnLabels[3] = "caption";
        var columns = new[] { original, masked, pasted };
        for (int i = 0; i < b; i++)
        {
            sheet.RowLabels[i] = $"#{i + 1}";
            for (int c = 0; c < 3; c++) sheet[i, c] = RgbImage.FromTensor(columns[c][i].repeat_interleave(scale, 1).repeat_interleave(scale, 2));
            var row = ids[i].data<long>().ToArray();
            var shown = shownText[i].data<bool>().ToArray();
            var guess = predicted is not null && predicted.shape[0] == b ? predicted[i].data<long>().ToArray() : null;
            sheet[i, 3] = TextTile(CaptionLines(text, row, shown, guess));
        }
        sheet.Legend.Add(new LegendEntry("hidden from the encoder", Color.MaskGrey));
        var picture = sheet.Render();
        return (picture.Height, picture.Width, picture.Pixels);
    }

    /// <summary>The caption as read, as the encoder saw it (hidden tokens ▢), with the predicted words in the hidden places, and the count right.</summary>
    internal static string[] CaptionLines(TextTokenizer text, long[] row, bool[] shown, long[]? guess)
    {
        var seen = new System.Text.StringBuilder();
        var filled = new System.Text.StringBuilder();
        int hiddenCount = 0, right = 0;
        for (int j = 0; j < row.Length; j++)
        {
            if (row[j] == Vocabulary.Pad) continue;
            string piece = text.Vocabulary.Piece((int)row[j]);
            if (shown[j]) { seen.Append(piece); filled.Append(piece); continue; }
            hiddenCount++;
            seen.Append(piece.StartsWith(' ') ? " ▢" : "▢");
            string g = guess is null ? "?" : text.Vocabulary.Piece((int)guess[j]);
            if (guess is not null && guess[j] == row[j]) right++;
            filled.Append(piece.StartsWith(' ') ? " " : "").Append('[').Append(g.Trim()).Append(']');
        }
        return [
            "read:  " + text.Vocabulary.Decode(row.Select(v => (int)v)).Trim(),
            "seen:  " + seen.ToString().Trim(),
            "guess: " + filled.ToString().Trim(),
            $"{right} of {hiddenCount} hidden tokens right",
        ];
    }

    /// <summary>Lines of text as a tile: a sheet of one-pixel cells whose row labels are the lines, each wrapped at <paramref name="width"/> characters.</summary>
    internal static RgbImage TextTile(IReadOnlyList<string> lines, int width = 48)
    {
        lines = lines.SelectMany(line => Wrap(line, width)).ToList();
        var tile = new Sheet(lines.Count, 1) { Gap = 2 };
        for (int i = 0; i < lines.Count; i++) { tile.RowLabels[i] = lines[i]; tile[i, 0] = new RgbImage(1, 1, Color.White); }
        return tile.Render();
    }

    /// <summary><paramref name="line"/> in pieces of at most <paramref name="width"/> characters, broken at spaces where it can; later pieces indented.</summary>
    public static IEnumerable<string> Wrap(string line, int width)
    {
        const string indent = "       ";
        string rest = line;
        for (bool first = true; ; first = false)
        {
            string piece = first ? rest : indent + rest;
            if (piece.Length <= width) { yield return piece; yield break; }
            int room = width - (first ? 0 : indent.Length);
            int cut = rest.LastIndexOf(' ', room, room);
            if (cut <= 0) cut = room; // one long word: break it
            yield return (first ? "" : indent) + rest[..cut].TrimEnd();
            rest = rest[cut..].TrimStart();
            if (rest.Length == 0) yield break;
        }
    }
}
