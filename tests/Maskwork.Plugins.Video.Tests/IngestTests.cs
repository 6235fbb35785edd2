using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Plugins.Video.Tokenization;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Video.Tests;

public sealed class IngestTests : IDisposable
{
    readonly string dir = Path.Combine(Path.GetTempPath(), $"maskwork-video-ds-{Environment.ProcessId}-{Guid.NewGuid():N}");

    public void Dispose() { if (Directory.Exists(dir)) Directory.Delete(dir, true); }

    /// <summary>
    /// Whole videos stored as uint8 [T,H,W,C] rows (what <c>ingest --reader video</c> writes) come back typed and
    /// intact, and the tokenizer draws each epoch's clip from them exactly as from the in-memory samples.
    /// </summary>
    [Fact]
    public async Task Ingested_videos_keep_their_frames_and_the_per_epoch_clip_choice()
    {
        var videos = Enumerable.Range(0, 6).Select(i =>
        {
            var bytes = new byte[(30 + i) * 16 * 16];
            for (int j = 0; j < bytes.Length; j++) bytes[j] = (byte)(j / 256 * 8 + i); // frame number in the pixels
            return Sample.Typed(bytes, SampleDType.UInt8, [30 + i, 16, 16, 1], i % 2, $"v{i}.mp4", normalized: true);
        }).ToList();
        await using (var writer = new DatasetWriter(dir))
        {
            foreach (var v in videos) await writer.AddAsync(v, CancellationToken.None);
            await writer.CompleteAsync("video", "in", new Dictionary<string, string>(), [], CancellationToken.None);
        }
        var issues = new DataIssueLog();
        var source = ParquetSource.Open(dir, null, new ParquetSourceOptions(), issues);
        var memory = new SampleSet(videos);
        var tokenizer = new VideoTokenizer(new ClipSampler(4, 3, Seed: 11), 16, 1, 2, 8, [0.5f], [0.25f]);
        var firstFrames = new HashSet<float>();
        for (int epoch = 0; epoch < 3; epoch++)
        {
            var indices = Enumerable.Range(0, 6).Select(i => (long)i).ToList();
            var stored = source.Read(indices, epoch);
            var held = memory.Read(indices, epoch);
            Assert.Equal(held.Select(s => s.Shape), stored.Select(s => s.Shape));
            Assert.All(stored, s => Assert.Equal(SampleDType.UInt8, s.DType));
            Assert.Equal(held.Select(s => s.RawBytes().ToArray()), stored.Select(s => s.RawBytes().ToArray()));
            using var a = tokenizer.Tokenize(stored, CPU).Tokens;
            using var b = tokenizer.Tokenize(held, CPU).Tokens;
            Assert.Equal(0f, (a - b).abs().max().item<float>()); // clips from the dataset are the clips from memory
            firstFrames.Add(tokenizer.Detokenize(a, new TokenBatch(a, tokenizer.Layout)).reshape(-1)[0].item<float>());
        }
        Assert.True(firstFrames.Count >= 2, "a new clip each epoch");
        Assert.Equal(0, issues.Count);
    }
}
