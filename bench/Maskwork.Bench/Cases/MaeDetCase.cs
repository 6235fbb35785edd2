using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Training;
using static TorchSharp.torch;

namespace Maskwork.Bench.Cases;

/// <summary>Diagnostic: are two identical short runs bit-identical? (foreground vs background tokenization, fused vs tensor-op AdamW)</summary>
public sealed class MaeDetCase : IBenchCase
{
    public string Name => "mae-det";
    public string Summary => "diagnostic: determinism of short MAE-Tiny runs";

    sealed class Foreground(ITokenizer inner) : ITokenizer
    {
        public TokenBatch Tokenize(IReadOnlyList<Sample> batch, Device device) => inner.Tokenize(batch, device);
        public Tensor Detokenize(Tensor tokens, TokenBatch like) => inner.Detokenize(tokens, like);
    }

    public Task<int> RunAsync(BenchArgs args)
    {
        MaeTiny.Threads(args);
        int steps = args.Int("steps", 3), batch = args.Int("batch", 16);
        var data = MaeTiny.Samples(256);
        foreach (var background in new[] { false, true })
        foreach (var fused in new[] { false, true })
        {
            var runs = new List<string>();
            for (int r = 0; r < 2; r++)
            {
                var parts = MaeTiny.Parts();
                if (!background) parts = parts with { Tokenizer = new Foreground(parts.Tokenizer) };
                using var t = new Trainer(MaeTiny.Setup(parts, batch, steps, ScalarType.Float32), new SampleSet(data));
                t.Optimizer.Fused = fused;
                var losses = new List<double>();
                t.Run(steps, CancellationToken.None, rep => losses.Add(rep.Loss));
                runs.Add(string.Join(" ", losses.Select(l => l.ToString("R"))));
            }
            Console.WriteLine($"background={background} fused={fused} same={runs[0] == runs[1]}  {runs[0]} | {runs[1]}");
        }
        return Task.FromResult(0);
    }
}
