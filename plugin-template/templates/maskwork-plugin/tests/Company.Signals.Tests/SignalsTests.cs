using Maskwork.Abstractions;
using Company.Signals.Readers;
using Company.Signals.Recipes;
using Maskwork.Backend.Tokenization;
using static TorchSharp.torch;

namespace Company.Signals.Tests;

public sealed class SignalsTests
{
    sealed class Issues : IDataIssues
    {
        public List<(string File, string Reason)> Items { get; } = [];
        public void Skip(string file, string reason) => Items.Add((file, reason));
    }

    static Sample Window(int channels, int length, int seed)
    {
        var rng = new Random(seed);
        var values = Enumerable.Range(0, channels * length).Select(_ => (float)rng.NextDouble()).ToArray();
        return new Sample(values, [channels, length], seed % 3, $"test#{seed}");
    }

    [Fact]
    public void Detokenize_inverts_Tokenize()
    {
        var tokenizer = new GridTokenizer([16], [4], 2, [0.5f, 0.1f], [2f, 0.5f]);
        var batch = Enumerable.Range(0, 3).Select(i => Window(2, 16, i)).ToList();
        using var scope = NewDisposeScope();
        var tokens = tokenizer.Tokenize(batch, CPU);
        Assert.Equal([3L, 4L, 8L], tokens.Tokens.shape);
        Assert.Equal(new GridLayout([4]), tokens.Layout);
        var back = tokenizer.Detokenize(tokens.Tokens, tokens);
        var expected = tensor(batch.SelectMany(s => s.Values).ToArray(), [3, 2, 16]);
        Assert.True(back.allclose(expected, rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void A_token_holds_consecutive_steps_of_every_channel()
    {
        var tokenizer = new GridTokenizer([4], [2], 2, [0f], [1f]);
        var sample = new Sample([0, 1, 2, 3, 10, 11, 12, 13], [2, 4], null, "s");
        using var scope = NewDisposeScope();
        var tokens = tokenizer.Tokenize([sample], CPU).Tokens;
        Assert.Equal(new float[] { 0, 10, 1, 11, 2, 12, 3, 13 }, tokens.data<float>().ToArray());
    }

    [Fact]
    public void Tokenize_names_the_sample_of_a_wrong_shape()
    {
        var tokenizer = new GridTokenizer([16], [4], 1, [0f], [1f]);
        var e = Assert.Throws<InvalidDataFileException>(() => tokenizer.Tokenize([Window(1, 12, 7)], CPU));
        Assert.Equal("test#7", e.File);
    }

    [Fact]
    public async Task Csv_reader_cuts_windows_and_skips_a_broken_file()
    {
        string dir = Directory.CreateTempSubdirectory("signals-").FullName;
        try
        {
            File.WriteAllLines(Path.Combine(dir, "a.csv"), ["time,x,y,label", .. Enumerable.Range(0, 10).Select(t => $"{t},{t},{-t},{t / 5}")]);
            File.WriteAllLines(Path.Combine(dir, "b.csv"), ["x,y", "1,2", "3,oops"]);
            var issues = new Issues();
            var spec = new DataSpec("company.signals-csv", dir) { Options = new Dictionary<string, string> { ["window"] = "4", ["stride"] = "3" } };
            var samples = new List<Sample>();
            await foreach (var s in new CsvSeriesReader("company.signals-csv").ReadAsync(spec, issues, CancellationToken.None)) samples.Add(s);
            Assert.Equal(3, samples.Count);                      // windows at 0, 3, 6
            Assert.Equal([2, 4], samples[1].Shape);
            Assert.Equal(new float[] { 3, 4, 5, 6, -3, -4, -5, -6 }, samples[1].Values);
            Assert.Equal(1, samples[2].Label);
            var (file, reason) = Assert.Single(issues.Items);
            Assert.EndsWith("b.csv", file);
            Assert.Contains("line 3", reason);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Recipe_builds_and_its_loss_is_finite()
    {
        var recipe = new SignalMaeRecipe("company.signals/mae");
        var options = (SignalMaeOptions)recipe.DefaultOptions with { Length = 32, Patch = 4, EncoderDepth = 1 };
        manual_seed(1);
        var parts = recipe.Build(options, new BuildContext(CPU, new DataSpec("company.signals-csv", "x")));
        using var scope = NewDisposeScope();
        var tokens = parts.Tokenizer.Tokenize(Enumerable.Range(0, 4).Select(i => Window(1, 32, i)).ToList(), CPU);
        var plan = parts.Masker.Plan(tokens, new MaskContext(0, new Generator(3UL)));
        Assert.Equal(4, plan.VisibleCount);                      // 8 patches, half masked
        var loss = parts.Objective.Compute(tokens, plan, parts.Encoder.Encode(tokens, plan)).Loss;
        Assert.True(float.IsFinite(loss.item<float>()));
    }
}
