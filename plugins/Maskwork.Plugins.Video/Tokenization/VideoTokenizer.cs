using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Tokenization;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Video.Tokenization;

/// <summary>
/// Videos [T,H,W,C] (uint8 as stored, any length T) → tubelet tokens: a clip is chosen per sample by
/// <see cref="ClipSampler"/> (seeded by the run's seed, the epoch and the sample's index), turned channels
/// first and cut by the backend's <see cref="GridTokenizer"/> into tubelet × patch × patch tokens on the
/// grid (t, y, x). <see cref="Detokenize"/> returns clips [B,C,F,H,W]. No global RNG: it runs on the data thread.
/// </summary>
public sealed class VideoTokenizer : IBackgroundTokenizer
{
    readonly GridTokenizer grid;

    public VideoTokenizer(ClipSampler clips, int size, int channels, int tubelet, int patch, float[] mean, float[] std)
    {
        Clips = clips;
        Size = size;
        Channels = channels;
        grid = new GridTokenizer([clips.Frames, size, size], [tubelet, patch, patch], channels, mean, std, axes: "t,y,x");
    }

    public ClipSampler Clips { get; }
    public int Size { get; }
    public int Channels { get; }

    /// <summary>The tubelet grid (t, y, x).</summary>
    public GridLayout Layout => grid.Layout;

    /// <summary>Values per token: tubelet · patch² · channels.</summary>
    public int TokenDim => grid.TokenDim;

    public TokenBatch Tokenize(IReadOnlyList<Sample> batch, Device device)
    {
        var clips = new Sample[batch.Count];
        for (int i = 0; i < batch.Count; i++)
        {
            var s = batch[i];
            if (s.Shape.Length != 4 || s.Shape[1] != Size || s.Shape[2] != Size || s.Shape[3] != Channels)
                throw new InvalidDataFileException(s.Source, $"video of shape [{string.Join(',', s.Shape)}] where [T,{Size},{Size},{Channels}] was expected (readers resize to data.size and convert to data.channels)");
            clips[i] = Clips.Clip(s, 0, i);
        }
        return grid.Tokenize(clips, device);
    }

    public Tensor Detokenize(Tensor tokens, TokenBatch like) => grid.Detokenize(tokens, like);
}
