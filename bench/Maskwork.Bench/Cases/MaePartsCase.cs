using Maskwork.Abstractions;
using Maskwork.Backend.Devices;
using Maskwork.Backend.Training;
using static TorchSharp.torch;

namespace Maskwork.Bench.Cases;

/// <summary>
/// Diagnostic: MAE-Tiny/4 encoder and whole-model forward/backward on one fixed batch, outside the
/// trainer (median ms), with the optimizer's flat parameter and gradient views in place as in training.
/// The gap to <c>mae-step</c>'s step time is what the training loop itself costs.
/// </summary>
public sealed class MaePartsCase : IBenchCase
{
    public string Name => "mae-parts";
    public string Summary => "diagnostic: median ms of encoder/objective/model fwd and fwd+bwd outside the trainer (--precision --batch)";

    static double Median(Action a) => Math.Round(Timing.Median(a), 2);

    public Task<int> RunAsync(BenchArgs args)
    {
        MaeTiny.Threads(args);
        var precision = Precision.Parse(args.String("precision", "bf16"));
        int batch = args.Int("batch", 128);
        var parts = MaeTiny.Parts();
        var model = new MaskedModel(parts);
        model.train();
        using var optimizer = new FlatAdamW(model.named_parameters().Select(p => new OptimizedParameter(p.name, p.parameter, true)).ToList(), 0.9, 0.95, 0.05);
        var tokens = parts.Tokenizer.Tokenize(MaeTiny.Samples(batch), CPU);
        var plan = parts.Masker.Plan(tokens, new MaskContext(0, new Generator(1)));
        var latent = parts.Encoder.Encode(tokens, plan).Latent.detach();
        using var _ = Precision.Use(precision);
        var ms = new Dictionary<string, double>
        {
            ["encoder_fwd"] = Median(() => { using var s = NewDisposeScope(); parts.Encoder.Encode(tokens, plan); }),
            ["model_fwd"] = Median(() => { using var s = NewDisposeScope(); model.Forward(tokens, plan); }),
            ["encoder_fwdbwd"] = Median(() =>
            {
                using var s = NewDisposeScope();
                parts.Encoder.Encode(tokens, plan).Latent.to_type(ScalarType.Float32).sum().backward();
                optimizer.ZeroGrad();
            }),
            ["objective_fwdbwd"] = Median(() =>
            {
                using var s = NewDisposeScope();
                parts.Objective.Compute(tokens, plan, new Encoded(latent.detach().requires_grad_())).Loss.backward();
                optimizer.ZeroGrad();
            }),
            ["model_fwdbwd"] = Median(() => { using var s = NewDisposeScope(); model.Forward(tokens, plan).Loss.backward(); optimizer.ZeroGrad(); }),
        };
        BenchArgs.Emit(new { @case = Name, precision = Precision.Name(precision), batch, threads = get_num_threads(), ms, load1 = MaeTiny.Load1() });
        return Task.FromResult(0);
    }
}
