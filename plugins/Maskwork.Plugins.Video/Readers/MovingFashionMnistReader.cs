using System.Runtime.CompilerServices;
using Maskwork.Abstractions;
using Maskwork.Backend.Data;

namespace Maskwork.Plugins.Video.Readers;

/// <summary>
/// Moving Fashion-MNIST, generated from the Fashion-MNIST IDX files (<c>apt-get install dataset-fashion-mnist</c>):
/// uint8 clips [T, S, S, C] (S = data.size, default 64; T = the recipe's clip span), each a pure function of
/// (data.seed, split, index). Train clips take their items from the train split, test clips from the test split;
/// <c>data.count</c> train clips (default 10,000) and <c>data.test_count</c> test clips (default 2,000).
/// <list type="bullet">
/// <item><c>moving-fashion-mnist</c>: Srivastava et al. 2015's rules — two 28×28 items at random positions, each
/// with a direction and a speed (2–5 px per frame) drawn per clip, bouncing off the edges, overlaps summed and
/// clipped at 255. No labels.</item>
/// <item><c>moving-fashion-mnist-8dir</c>: one item moving at a constant speed (data.speed px per frame, default 3)
/// in one of 8 compass directions (0 E, 1 NE, 2 N, 3 NW, 4 W, 5 SW, 6 S, 7 SE), placed so it stays inside; the
/// label is the item's class or the direction (<c>data.label=class|direction</c>).</item>
/// </list>
/// </summary>
public sealed class MovingFashionMnistReader(bool eightDirections) : IDatasetReader
{
    const int Item = 28;

    public string Name => eightDirections ? "moving-fashion-mnist-8dir" : "moving-fashion-mnist";

    public string Description => eightDirections
        ? "generated clips: one Fashion-MNIST item moving in one of 8 directions; data.label=class|direction, data.count, data.test_count, data.speed, data.seed"
        : "generated clips: two bouncing Fashion-MNIST items (Srivastava et al. 2015); data.count, data.test_count, data.seed";

    public async IAsyncEnumerable<Sample> ReadAsync(DataSpec spec, IDataIssues issues, [EnumeratorCancellation] CancellationToken ct)
    {
        var o = VideoReadOptions.From(spec);
        if (o.Size < Item) throw new ArgumentException($"{Name}: data.size must be at least {Item} (the item size), got {o.Size}");
        int trainCount = VideoReadOptions.Int(spec, "count", 10_000), testCount = VideoReadOptions.Int(spec, "test_count", 2_000);
        int speed = VideoReadOptions.Int(spec, "speed", 3);
        string label = spec.Option("label", "class");
        if (label is not ("class" or "direction")) throw new ArgumentException($"data.label must be class or direction, got '{label}'");
        if (!eightDirections && spec.Options.ContainsKey("label")) throw new ArgumentException($"{Name} has no labels; use moving-fashion-mnist-8dir for data.label");
        if (trainCount < 0 || testCount < 0) throw new ArgumentException("data.count and data.test_count must be ≥ 0");
        if (eightDirections && (speed < 0 || Item + speed * (o.Span - 1) > o.Size))
            throw new ArgumentException($"{Name}: an item moving {speed} px per frame over {o.Span} frames leaves a {o.Size}-px frame; lower data.speed or the frames");

        var folders = IdxFiles.SearchFolders(spec.Path, "fashion-mnist");
        string folder = IdxFiles.Locate(folders) ?? throw new DirectoryNotFoundException(
            $"{Name}: no Fashion-MNIST IDX files in {string.Join(", ", folders)}. Install them with `apt-get install dataset-fashion-mnist`, set MASKWORK_DATA, or pass --data {Name}:<folder>.");
        await foreach (var split in IdxFiles.ReadAsync(folder, spec.Split, issues, requireSplit: true, ct))
        {
            int count = split.Split == "train" ? trainCount : testCount;
            long splitSeed = SeedMix.Of(o.Seed, split.Split == "train" ? 1 : 2, eightDirections ? 8 : 2);
            const int chunk = 256;
            for (int start = 0; start < count; start += chunk)
            {
                ct.ThrowIfCancellationRequested();
                int n = Math.Min(chunk, count - start);
                var made = new Sample[n];
                await Task.Run(() => Parallel.For(0, n, j => made[j] = Make(split, start + j, splitSeed, o, speed, label)), ct);
                foreach (var s in made) yield return s;
            }
        }
    }

    Sample Make(IdxSplit split, int index, long splitSeed, VideoReadOptions o, int speed, string label)
    {
        long key = SeedMix.Of(splitSeed, index);
        int draw = 0;
        double U() => SampleRandom.Uniform(key, draw++);
        int t = o.Span, s = o.Size, room = s - Item;
        var frames = new byte[t * s * s];
        int? result;
        if (eightDirections)
        {
            int item = (int)(U() * split.Count), dir = (int)(U() * 8);
            double angle = dir * Math.PI / 4;
            int dx = (int)Math.Round(speed * Math.Cos(angle)), dy = -(int)Math.Round(speed * Math.Sin(angle)); // north = up
            int travelX = dx * (t - 1), travelY = dy * (t - 1);
            int x0 = Math.Max(0, -travelX) + (int)(U() * (room - Math.Abs(travelX) + 1));
            int y0 = Math.Max(0, -travelY) + (int)(U() * (room - Math.Abs(travelY) + 1));
            for (int f = 0; f < t; f++) Paste(frames, f, s, split.Image(item), x0 + dx * f, y0 + dy * f);
            result = label == "class" ? split.Label(item) : dir;
        }
        else
        {
            for (int k = 0; k < 2; k++)
            {
                int item = (int)(U() * split.Count);
                double x = U() * room, y = U() * room, angle = U() * 2 * Math.PI, v = 2 + 3 * U();
                double vx = v * Math.Cos(angle), vy = v * Math.Sin(angle);
                for (int f = 0; f < t; f++)
                {
                    Paste(frames, f, s, split.Image(item), (int)Math.Round(x), (int)Math.Round(y));
                    x += vx; y += vy;
                    if (x < 0) { x = -x; vx = -vx; } else if (x > room) { x = 2 * room - x; vx = -vx; }
                    if (y < 0) { y = -y; vy = -vy; } else if (y > room) { y = 2 * room - y; vy = -vy; }
                }
            }
            result = null;
        }
        byte[] data = frames;
        if (o.Channels == 3)
        {
            data = new byte[frames.Length * 3];
            for (int i = 0; i < frames.Length; i++) data[3 * i] = data[3 * i + 1] = data[3 * i + 2] = frames[i];
        }
        return Sample.Typed(data, SampleDType.UInt8, [t, s, s, o.Channels], result, $"{Name}:{split.Split}#{index}", normalized: true) with { Split = split.Split };
    }

    /// <summary>Adds an item at (x, y) of frame <paramref name="f"/>, clipping the sum at 255.</summary>
    static void Paste(byte[] frames, int f, int size, ReadOnlySpan<byte> item, int x, int y)
    {
        int frame = f * size * size;
        for (int r = 0; r < Item; r++)
            for (int c = 0; c < Item; c++)
            {
                int i = frame + (y + r) * size + x + c;
                frames[i] = (byte)Math.Min(255, frames[i] + item[r * Item + c]);
            }
    }
}
