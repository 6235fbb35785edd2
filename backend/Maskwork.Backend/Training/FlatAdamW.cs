using Maskwork.Abstractions;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Maskwork.Backend.Training;

/// <summary>A parameter the optimizer owns, and whether weight decay applies to it.</summary>
public sealed record OptimizedParameter(string Name, Parameter Value, bool Decay);

/// <summary>
/// AdamW over one flat fp32 buffer: parameters are re-pointed at views of <see cref="Parameters"/>,
/// gradients are gathered into one flat tensor, and the update is a handful of whole-buffer ops
/// instead of several native calls per parameter. Numerically the same as torch.optim.AdamW.
/// </summary>
public sealed class FlatAdamW : IDisposable
{
    readonly IReadOnlyList<OptimizedParameter> parameters;
    readonly Tensor decayMask;

    /// <param name="mode">
    /// <see cref="WeightDecayMode.Decoupled"/>: AdamW (torch.optim.AdamW). <see cref="WeightDecayMode.L2"/>: Adam with
    /// wd·θ added to the gradient before the moments (torch.optim.Adam's weight_decay), on the parameters marked Decay.
    /// </param>
    public FlatAdamW(IReadOnlyList<OptimizedParameter> parameters, double beta1, double beta2, double weightDecay, double eps = 1e-8,
        WeightDecayMode mode = WeightDecayMode.Decoupled)
    {
        this.parameters = parameters;
        Beta1 = beta1; Beta2 = beta2; WeightDecay = weightDecay; Eps = eps; Mode = mode;
        long total = parameters.Sum(p => p.Value.numel());
        var device = parameters.Count > 0 ? parameters[0].Value.device : CPU;
        Parameters = zeros(total, device: device);
        ExpAvg = zeros(total, device: device);
        ExpAvgSq = zeros(total, device: device);
        var mask = new float[total];
        using (no_grad())
        {
            long offset = 0;
            foreach (var p in parameters)
            {
                long n = p.Value.numel();
                var view = Parameters.narrow(0, offset, n).view(p.Value.shape);
                view.copy_(p.Value);
                p.Value.set_(view);
                if (p.Decay) Array.Fill(mask, 1f, (int)offset, (int)n);
                offset += n;
            }
        }
        decayMask = tensor(mask, device: device);
    }

    public double Beta1 { get; }
    public double Beta2 { get; }
    public double WeightDecay { get; }
    public double Eps { get; }
    public WeightDecayMode Mode { get; }

    /// <summary>All parameters, flat. Each model parameter is a view of it.</summary>
    public Tensor Parameters { get; }

    public Tensor ExpAvg { get; }
    public Tensor ExpAvgSq { get; }

    /// <summary>Steps taken (for bias correction).</summary>
    public long StepCount { get; set; }

    public long Count => Parameters.numel();

    /// <summary>The gradients of every parameter as one flat tensor (zeros where a parameter got none).</summary>
    public Tensor FlatGradient() =>
        cat(parameters.Select(p => p.Value.grad is { } g ? g.reshape(-1) : zeros(p.Value.numel(), device: p.Value.device)).ToArray(), 0);

    /// <summary>Applies one AdamW update with the flat gradient <paramref name="grad"/>.</summary>
    public void Step(Tensor grad, double lr)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        StepCount++;
        if (WeightDecay != 0 && Mode == WeightDecayMode.L2) grad = grad.add(Parameters * decayMask, alpha: WeightDecay);
        else if (WeightDecay != 0) Parameters.sub_(Parameters * decayMask * (lr * WeightDecay));
        ExpAvg.mul_(Beta1).add_(grad, alpha: 1 - Beta1);
        ExpAvgSq.mul_(Beta2).addcmul_(grad, grad, value: 1 - Beta2);
        double bc1 = 1 - Math.Pow(Beta1, StepCount), bc2 = 1 - Math.Pow(Beta2, StepCount);
        var denom = (ExpAvgSq.sqrt() / Math.Sqrt(bc2)).add_(Eps);
        Parameters.addcdiv_(ExpAvg, denom, value: -lr / bc1);
    }

    public void ZeroGrad()
    {
        foreach (var p in parameters) p.Value.grad?.zero_();
    }

    public void Dispose()
    {
        decayMask.Dispose();
        ExpAvg.Dispose();
        ExpAvgSq.Dispose();
    }
}
