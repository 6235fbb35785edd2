using Maskwork.Backend.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Maskwork.Bench.Cases;

/// <summary>One AdamW step on the MAE-Tiny/4 parameter set: Maskwork's flat AdamW vs TorchSharp's AdamW (two param groups, as MAE).</summary>
public sealed class OptimizerCase : IBenchCase
{
    public string Name => "optimizer";
    public string Summary => "one AdamW step on the MAE-Tiny parameters: flat (fused / tensor ops) vs TorchSharp AdamW (--reps 20 --threads 2)";

    public Task<int> RunAsync(BenchArgs args)
    {
        MaeTiny.Threads(args);
        int reps = args.Int("reps", 20);
        var named = new MaskedModel(MaeTiny.Parts()).named_parameters().ToList();
        var ours = named.Select(p => new OptimizedParameter(p.name, nn.Parameter(p.parameter.detach().clone()), MaskedModel.Decays(p.name, p.parameter))).ToList();
        var theirs = named.Select(p => nn.Parameter(p.parameter.detach().clone())).ToList();
        var flat = new FlatAdamW(ours, 0.9, 0.95, 0.05);
        var reference = optim.AdamW(
        [
            new AdamW.ParamGroup(theirs.Where((_, i) => ours[i].Decay), new AdamW.Options { weight_decay = 0.05, beta1 = 0.9, beta2 = 0.95 }),
            new AdamW.ParamGroup(theirs.Where((_, i) => !ours[i].Decay), new AdamW.Options { weight_decay = 0.0, beta1 = 0.9, beta2 = 0.95 }),
        ], lr: 1e-3);

        manual_seed(3);
        var grads = named.Select(p => randn(p.parameter.shape) * 1e-2).ToList();
        void SetGrads()
        {
            using var _ = no_grad();
            flat.FlatGradient(); // re-points any .grad a previous run replaced
            for (int i = 0; i < grads.Count; i++)
            {
                ours[i].Value.grad!.copy_(grads[i]);
                if (theirs[i].grad is { } g) g.copy_(grads[i]); else theirs[i].grad = grads[i].clone();
            }
        }
        double Time(Action a) => Timing.Median(a, warmup: 2, reps: reps, before: SetGrads);
        // What the trainer does per step: gradient (already flat), its norm, the update with the clip and zero_grad folded in.
        double fused = Time(() =>
        {
            using var s = NewDisposeScope();
            var g = flat.FlatGradient();
            double norm = g.norm().item<float>();
            flat.Step(g, 1e-3, norm > 1 ? 1 / (norm + 1e-6) : 1, clearGradient: true);
        });
        flat.Fused = false;
        double tensorOps = Time(() =>
        {
            using var s = NewDisposeScope();
            var g = flat.FlatGradient();
            double norm = g.norm().item<float>();
            flat.Step(g, 1e-3, norm > 1 ? 1 / (norm + 1e-6) : 1, clearGradient: true);
        });
        double updateOnly = Time(() => flat.Step(flat.Gradients, 1e-3));
        flat.Fused = true;
        double fusedUpdateOnly = Time(() => flat.Step(flat.Gradients, 1e-3));
        double torchSharp = Time(() => { reference.step(); reference.zero_grad(); });
        double torchUpdateOnly = Time(() => reference.step());

        BenchArgs.Emit(new
        {
            @case = Name, parameters = flat.Count, threads = get_num_threads(),
            flat_fused_ms = Math.Round(fused, 2), flat_tensor_ops_ms = Math.Round(tensorOps, 2), torchsharp_adamw_ms = Math.Round(torchSharp, 2),
            flat_fused_update_ms = Math.Round(fusedUpdateOnly, 2), flat_tensor_ops_update_ms = Math.Round(updateOnly, 2), torchsharp_update_ms = Math.Round(torchUpdateOnly, 2),
            speedup_vs_torchsharp = Math.Round(torchSharp / fused, 2),
            note = "flat_*_ms = what the trainer runs per step (norm + update with clip + zero grads); *_update_ms = the update alone",
            load1 = MaeTiny.Load1(),
        });
        return Task.FromResult(0);
    }
}
