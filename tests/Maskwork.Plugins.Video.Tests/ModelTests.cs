using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Nn;
using Maskwork.Backend.Training;
using Maskwork.Plugins.Video.Readers;
using Maskwork.Plugins.Video.Recipes;
using Maskwork.Plugins.Video.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Video.Tests;

public sealed class ModelTests
{
    internal static readonly VideoMaeOptions Tiny = new()
    {
        EncoderDim = 48, EncoderDepth = 1, EncoderHeads = 2, DecoderDim = 24, DecoderDepth = 1, DecoderHeads = 2,
        Size = 32, Frames = 8, DecoderMasker = "running-cell",
    };

    internal static async Task<List<Sample>> Moving(int count, string label = "direction", int size = 32, string split = "train")
    {
        var spec = new DataSpec("moving-fashion-mnist-8dir", "")
        {
            Split = split,
            Options = new Dictionary<string, string> { ["size"] = size.ToString(), ["count"] = count.ToString(), ["test_count"] = count.ToString(), ["label"] = label, ["speed"] = "0" },
        };
        var list = new List<Sample>();
        await foreach (var s in new MovingFashionMnistReader(true).ReadAsync(spec, new DataIssueLog(), CancellationToken.None)) list.Add(s);
        return list;
    }

    /// <summary>uint8 videos [T,H,W,C] with distinct values per (t, y, x, c), to follow pixels through the tokenizer.</summary>
    static Sample Ramp(int t, int size, int channels, int index)
    {
        var bytes = new byte[t * size * size * channels];
        for (int i = 0; i < bytes.Length; i++) bytes[i] = (byte)((i * 7 + index) % 251);
        return Sample.Typed(bytes, SampleDType.UInt8, [t, size, size, channels], null, $"ramp{index}", normalized: true) with { Index = index };
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Tubelets_detokenize_to_the_sampled_clip_exactly(int channels)
    {
        var clips = new ClipSampler(4, 2, Seed: 5);
        var tokenizer = new VideoTokenizer(clips, 16, channels, 2, 8, [0.4f], [0.2f]);
        var samples = new[] { Ramp(20, 16, channels, 0), Ramp(3, 16, channels, 1) };
        var tokens = tokenizer.Tokenize(samples, CPU);
        Assert.Equal([2, 2 * 2 * 2, 2 * 8 * 8 * channels], tokens.Tokens.shape);
        Assert.Equal("t,y,x", tokenizer.Layout.Axes);
        var back = tokenizer.Detokenize(tokens.Tokens, tokens); // [B,C,F,H,W]
        for (int b = 0; b < 2; b++)
        {
            var src = samples[b].RawBytes().ToArray();
            int length = samples[b].Shape[0];
            var frames = clips.Indices(length, SampleRandom.Uniform(SampleRandom.Key(5, samples[b], 0, b), 0));
            var expected = new float[channels * 4 * 16 * 16];
            for (int c = 0; c < channels; c++)
                for (int f = 0; f < 4; f++)
                    for (int p = 0; p < 256; p++)
                        expected[((c * 4 + f) * 256) + p] = src[(frames[f] * 256 + p) * channels + c] / 255f;
            var got = back[b].contiguous().data<float>().ToArray();
            Assert.Equal(expected.Length, got.Length);
            for (int i = 0; i < got.Length; i++) Assert.Equal(expected[i], got[i], 4);
        }
    }

    [Fact]
    public void Clips_span_the_sampling_rate_pad_with_the_last_frame_and_change_with_the_epoch()
    {
        var clips = new ClipSampler(4, 3, Seed: 1);
        Assert.Equal(10, clips.Span);
        Assert.Equal([0, 3, 6, 9], clips.Indices(10, 0.99));
        Assert.Equal([0, 3, 4, 4], clips.Indices(5, 0.5)); // short video: last frame repeated
        Assert.Equal([5, 8, 11, 14], clips.Indices(15, 0.99));
        var video = Ramp(40, 8, 1, 3);
        var starts = Enumerable.Range(0, 6).Select(e => clips.Clip(video with { Epoch = e }, 0, 0).RawBytes()[0]).Distinct().Count();
        Assert.True(starts >= 3, $"six epochs gave {starts} distinct clips");
        Assert.Equal(clips.Clip(video with { Epoch = 2 }, 0, 0).RawBytes().ToArray(), clips.Clip(video with { Epoch = 2 }, 9, 4).RawBytes().ToArray()); // keyed by the index, not the batch
    }

    [Fact]
    public void Clips_are_keyed_by_the_build_context_seed_not_torch_s_generator()
    {
        var videos = Enumerable.Range(0, 4).Select(i => Ramp(40, 32, 1, i) with { Epoch = 3 }).ToList();
        float[] Clips(long? seed, int torchSeed)
        {
            manual_seed(torchSeed);
            var context = new BuildContext(CPU, new DataSpec("x", ""));
            if (seed is { } s) context = context with { Seed = s };
            var parts = new VideoMaeRecipe("video/videomae", "", Tiny).Build(Tiny, context);
            return parts.Tokenizer.Tokenize(videos, CPU).Tokens.data<float>().ToArray();
        }
        Assert.Equal(Clips(11, 0), Clips(11, 99));  // the context's seed decides, whatever torch was seeded with
        Assert.NotEqual(Clips(11, 0), Clips(12, 0));
        Assert.Equal(Clips(11, 0), Clips(null, 11)); // unset: torch's last manual seed, as the host seeds it
    }

    [Fact]
    public void Dual_masking_encodes_the_tube_visible_set_and_scores_masked_and_kept_tokens()
    {
        manual_seed(0);
        var recipe = new VideoMaeRecipe("video/videomae-v2", "", Tiny);
        var parts = recipe.Build(Tiny, new BuildContext(CPU, new DataSpec("x", "")));
        var tokens = parts.Tokenizer.Tokenize(Enumerable.Range(0, 3).Select(i => Ramp(8, 32, 1, i)).ToList(), CPU) with { SampleKeys = tensor(new long[] { 0, 1, 2 }) };
        var plan = parts.Masker.Plan(tokens, new MaskContext(0, new Generator(1)) { Seed = 1 });
        // 4×4×4 tubelets; tube 0.9 of the 16 spatial positions: int(16 · 0.1) = 1 seen in every one of the 4 slices.
        Assert.Equal(4 * 1, plan.VisibleCount);
        Assert.Equal(4 * 15, plan.MaskedCount);
        var kept = plan.DecoderTargets!;
        Assert.Equal(32, kept.shape[1]); // running cell 0.5
        // The tube: the same spatial positions are visible in every time slice.
        var vis = plan.Visible[0].data<long>().Select(i => i % 16).ToArray();
        Assert.Equal(4, vis.Length);
        Assert.Single(vis.Distinct());
        var encoded = parts.Encoder.Encode(tokens, plan);
        Assert.Equal([3, 4, 48], encoded.Latent.shape);
        ((nn.Module)parts.Objective).train();
        var result = parts.Objective.Compute(tokens, plan, encoded);
        Assert.True(result.Loss.item<float>() is > 0 and < 10);
        result.Loss.backward();
        Assert.All(((nn.Module)parts.Encoder).parameters(), p => Assert.NotNull(p.grad));
        // Visible tokens pass through the reconstruction unchanged.
        Assert.True(TokenOps.Gather(result.Reconstruction!, plan.Visible).allclose(TokenOps.Gather(tokens.Tokens, plan.Visible)));

        // The loss equals the mean over masked ∩ kept of the per-tubelet, per-channel normalised error — in eval mode too.
        ((nn.Module)parts.Objective).eval();
        using var _ = no_grad();
        var evalLoss = parts.Objective.Compute(tokens, plan, encoded).Loss.item<float>();
        Assert.True(float.IsFinite(evalLoss));
    }

    [Fact]
    public void Target_normalisation_is_videomae_s_per_channel_unbiased_form()
    {
        var x = tensor(new float[] { 1, 10, 2, 20, 3, 30, 6, 60 }).view(1, 1, 8); // 4 positions × 2 channels
        var n = Maskwork.Backend.Tokenization.PatchNorm.PerChannel(x, 2).view(4, 2);
        double mean = 3, std = Math.Sqrt((4 + 1 + 0 + 9) / 3.0);
        Assert.Equal((1 - mean) / (std + 1e-6), n[0, 0].item<float>(), 4);
        Assert.Equal((60 - 30) / (10 * std + 1e-6), n[3, 1].item<float>(), 4);
    }

    [Fact]
    public void The_paper_preset_is_vit_b_on_sixteen_frames_of_224()
    {
        var o = new VideoMaeOptions { Preset = "paper" }.Effective();
        var recipe = new VideoMaeRecipe("video/videomae", "", new VideoMaeOptions());
        Assert.Equal("224", recipe.DataOptions(new VideoMaeOptions { Preset = "paper" })["size"]);
        Assert.Equal((16, 224, 3, 16, 768, 12, 0.9), (o.Frames, o.Size, o.Channels, o.Patch, o.EncoderDim, o.EncoderDepth, o.MaskRatio));
        var tokenizer = new VideoTokenizer(new ClipSampler(o.Frames, o.SamplingRate, 0), o.Size, o.Channels, o.Tubelet, o.Patch, o.Mean, o.Std);
        Assert.Equal(1568, tokenizer.Layout.Count);
        Assert.Contains("cpu, paper", Assert.Throws<ArgumentException>(() => new VideoMaeOptions { Preset = "gpu" }.Effective()).Message);
    }

    [Fact]
    public async Task Resume_from_a_checkpoint_retraces_an_uninterrupted_video_run()
    {
        var data = await Moving(24);
        var recipe = new VideoMaeRecipe("video/videomae-v2", "", Tiny);
        var options = recipe.Training with { Steps = 8, Batch = 4, WarmupSteps = 2, CheckpointEvery = 0, Workers = 2 };
        Trainer Make()
        {
            manual_seed(7);
            var parts = recipe.Build(Tiny, new BuildContext(CPU, new DataSpec("moving-fashion-mnist-8dir", "")));
            return new Trainer(new TrainerSetup(recipe.Name, parts, options, 7, CPU, ScalarType.Float32), new SampleSet(data));
        }
        var straight = new List<double>();
        using var whole = Make();
        whole.Run(8, CancellationToken.None, r => straight.Add(r.Loss));
        string path = Path.Combine(Path.GetTempPath(), $"video-resume-{Environment.ProcessId}.ckpt");
        using (var first = Make()) { first.Run(4, CancellationToken.None); first.Save(path, 0); }
        var resumed = new List<double>();
        using var second = Make();
        second.Load(path);
        second.Run(8, CancellationToken.None, r => resumed.Add(r.Loss));
        File.Delete(path);
        Assert.Equal(4, resumed.Count);
        for (int i = 0; i < 4; i++) Assert.Equal(straight[4 + i], resumed[i], 6);
        Assert.True(whole.Optimizer.Parameters.allclose(second.Optimizer.Parameters, rtol: 0, atol: 1e-6));
    }
}
