using Maskwork.Abstractions;
using Maskwork.Backend.Data;

namespace Maskwork.Plugins.Video.Tokenization;

/// <summary>
/// VideoMAE's clip choice: <see cref="Frames"/> frames every <see cref="SamplingRate"/> frames from a start
/// drawn per sample from (seed, epoch, global index), so every epoch sees a new clip of each video and a
/// resumed or re-sliced run sees the same ones. Videos shorter than the span are padded with their last frame.
/// </summary>
public sealed record ClipSampler(int Frames, int SamplingRate, long Seed)
{
    /// <summary>Frames a clip spans in the source: (frames − 1) · rate + 1.</summary>
    public int Span => (Frames - 1) * SamplingRate + 1;

    /// <summary>The source frame of each clip frame, for a video of <paramref name="length"/> frames and a draw <paramref name="u"/> in [0, 1).</summary>
    public int[] Indices(int length, double u)
    {
        if (length <= 0) throw new ArgumentException("a video needs at least one frame");
        int start = length >= Span ? (int)Math.Min(length - Span, Math.Floor(u * (length - Span + 1))) : 0;
        var indices = new int[Frames];
        for (int j = 0; j < Frames; j++) indices[j] = Math.Min(start + j * SamplingRate, length - 1);
        return indices;
    }

    /// <summary>The clip of <paramref name="sample"/> ([T,H,W,C] in any dtype) as a sample [C,F,H,W] of the same dtype, for the grid tokenizer.</summary>
    public Sample Clip(Sample sample, long batchIndex, int position)
    {
        if (sample.Shape.Length != 4)
            throw new InvalidDataFileException(sample.Source, $"a video sample has shape [T,H,W,C], this one [{string.Join(',', sample.Shape)}]");
        int t = sample.Shape[0], h = sample.Shape[1], w = sample.Shape[2], c = sample.Shape[3];
        double u = SampleRandom.Uniform(SampleRandom.Key(Seed, sample, batchIndex, position), 0);
        var frames = Indices(t, u);
        int size = SampleDTypes.Size(sample.DType), frameBytes = h * w * c * size;
        var source = sample.RawBytes();
        var clip = new byte[(long)Frames * frameBytes];
        if (c == 1)
            for (int j = 0; j < Frames; j++) source.Slice(frames[j] * frameBytes, frameBytes).CopyTo(clip.AsSpan(j * frameBytes, frameBytes));
        else
        {
            // Channels last → channels first, element by element (elements of `size` bytes).
            int plane = Frames * h * w;
            for (int j = 0; j < Frames; j++)
            {
                var frame = source.Slice(frames[j] * frameBytes, frameBytes);
                for (int p = 0; p < h * w; p++)
                    for (int ch = 0; ch < c; ch++)
                        frame.Slice((p * c + ch) * size, size).CopyTo(clip.AsSpan((ch * plane + j * h * w + p) * size, size));
            }
        }
        return Sample.Typed(clip, sample.DType, [c, Frames, h, w], sample.Label, sample.Source, sample.Normalized) with
        {
            Split = sample.Split, Index = sample.Index, Epoch = sample.Epoch,
        };
    }
}
