using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Maskwork.Abstractions;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Maskwork.Backend.Training;

/// <summary>A parameter the optimizer owns, and whether weight decay applies to it.</summary>
public sealed record OptimizedParameter(string Name, Parameter Value, bool Decay)
{
    /// <summary>Multiplies the learning rate for this parameter (layer-wise learning-rate decay); 1 by default.</summary>
    public double LrScale { get; init; } = 1;
}

/// <summary>
/// AdamW over one flat fp32 buffer: parameters are re-pointed at views of <see cref="Parameters"/>
/// and their <c>.grad</c> at views of <see cref="Gradients"/>, so autograd accumulates straight into
/// one flat gradient (no gathering) and the update is one pass over the buffers: on the CPU a fused
/// vectorised loop (read p, g, m, v; write p, m, v), elsewhere a handful of whole-buffer tensor ops.
/// Numerically the same as torch.optim.AdamW (Adam with L2 decay in <see cref="WeightDecayMode.L2"/>).
/// </summary>
public sealed class FlatAdamW : IDisposable
{
    readonly IReadOnlyList<OptimizedParameter> parameters;
    readonly Tensor[] gradViews;
    readonly IntPtr[] gradPointers;
    readonly (long Offset, long Length, bool Decay, double LrScale)[] segments;
    Tensor? decayMask, lrScaleMask;

    /// <summary>The 1.0 constructor (AdamW with decoupled weight decay), kept so plugins built against 1.0 still run.</summary>
    public FlatAdamW(IReadOnlyList<OptimizedParameter> parameters, double beta1, double beta2, double weightDecay, double eps)
        : this(parameters, beta1, beta2, weightDecay, eps, WeightDecayMode.Decoupled) { }

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
        Gradients = zeros(total, device: device);
        ExpAvg = zeros(total, device: device);
        ExpAvgSq = zeros(total, device: device);
        gradViews = new Tensor[parameters.Count];
        gradPointers = new IntPtr[parameters.Count];
        var runs = new List<(long Offset, long Length, bool Decay, double LrScale)>();
        using (no_grad())
        {
            long offset = 0;
            for (int i = 0; i < parameters.Count; i++)
            {
                var p = parameters[i];
                long n = p.Value.numel();
                using (var view = Parameters.narrow(0, offset, n).view(p.Value.shape))
                {
                    view.copy_(p.Value);
                    p.Value.set_(view);
                }
                gradViews[i] = Gradients.narrow(0, offset, n).view(p.Value.shape);
                gradPointers[i] = DataPointer(gradViews[i]);
                p.Value.grad = gradViews[i];
                if (runs.Count > 0 && runs[^1].Decay == p.Decay && runs[^1].LrScale == p.LrScale && runs[^1].Offset + runs[^1].Length == offset)
                    runs[^1] = (runs[^1].Offset, runs[^1].Length + n, p.Decay, p.LrScale);
                else runs.Add((offset, n, p.Decay, p.LrScale));
                offset += n;
            }
        }
        segments = runs.ToArray();
        foreach (var t in gradViews.Append(Parameters).Append(Gradients).Append(ExpAvg).Append(ExpAvgSq)) t.DetachFromDisposeScope();
        Fused = device.type == DeviceType.CPU && Vector.IsHardwareAccelerated;
    }

    public double Beta1 { get; }
    public double Beta2 { get; }
    public double WeightDecay { get; }
    public double Eps { get; }
    public WeightDecayMode Mode { get; }

    /// <summary>Whether <see cref="Step(Tensor, double, double)"/> runs the fused CPU loop (else tensor ops).</summary>
    public bool Fused { get; set; }

    /// <summary>All parameters, flat. Each model parameter is a view of it.</summary>
    public Tensor Parameters { get; }

    /// <summary>All gradients, flat. Each parameter's <c>.grad</c> is a view of it.</summary>
    public Tensor Gradients { get; }

    public Tensor ExpAvg { get; }
    public Tensor ExpAvgSq { get; }

    /// <summary>Steps taken (for bias correction).</summary>
    public long StepCount { get; set; }

    public long Count => Parameters.numel();

    /// <summary>
    /// The gradients of every parameter as one flat tensor (zeros where a parameter got none): normally
    /// <see cref="Gradients"/> itself, already filled by autograd. A parameter whose <c>.grad</c> was
    /// replaced or reset (e.g. by <c>Module.zero_grad</c>) is copied back in and re-pointed.
    /// </summary>
    public Tensor FlatGradient()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        for (int i = 0; i < parameters.Count; i++)
        {
            // Still our view? (one pointer compare: this runs every step for every parameter)
            var g = parameters[i].Value.grad;
            if (g is not null && g.Handle != IntPtr.Zero && DataPointer(g) == gradPointers[i] && g.dtype == ScalarType.Float32 && g.is_contiguous()) continue;
            if (g is null) gradViews[i].zero_();
            else gradViews[i].copy_(g);
            parameters[i].Value.grad = gradViews[i];
        }
        return Gradients;
    }

    [DllImport("LibTorchSharp")]
    static extern IntPtr THSTensor_data(IntPtr handle);

    /// <summary>Address of a tensor's first element (TorchSharp offers it only through typed spans, which cost more than this check).</summary>
    static IntPtr DataPointer(Tensor t)
    {
        var p = THSTensor_data(t.Handle);
        GC.KeepAlive(t);
        return p;
    }

    /// <summary>Applies one AdamW update with the flat gradient <paramref name="grad"/>.</summary>
    public void Step(Tensor grad, double lr) => Step(grad, lr, 1.0);

    /// <summary>
    /// Applies one AdamW update with the flat gradient <paramref name="grad"/> scaled by <paramref name="gradScale"/>
    /// (gradient clipping without an extra pass). <paramref name="clearGradient"/> zeroes <paramref name="grad"/>
    /// afterwards, on the CPU inside the same pass (the trainer's zero_grad without a pass of its own).
    /// </summary>
    public void Step(Tensor grad, double lr, double gradScale, bool clearGradient = false)
    {
        StepCount++;
        if (Fused && grad.device_type == DeviceType.CPU && grad.dtype == ScalarType.Float32 && grad.is_contiguous() && grad.numel() == Count)
        {
            FusedStep(grad, lr, gradScale, clearGradient);
            return;
        }
        TensorStep(grad, lr, gradScale);
        if (clearGradient) { using var _ = no_grad(); grad.zero_(); }
    }

    void TensorStep(Tensor grad, double lr, double gradScale)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var scales = LrScaleMask(); // null when every parameter runs at the base rate
        if (gradScale != 1.0) grad = grad * gradScale;
        if (WeightDecay != 0 && Mode == WeightDecayMode.L2) grad = grad.add(Parameters * DecayMask(), alpha: WeightDecay);
        else if (WeightDecay != 0) Parameters.addcmul_(Parameters, scales is null ? DecayMask() : DecayMask() * scales, value: -lr * WeightDecay);
        ExpAvg.lerp_(grad, 1 - Beta1);
        ExpAvgSq.mul_(Beta2).addcmul_(grad, grad, value: 1 - Beta2);
        double bc1 = 1 - Math.Pow(Beta1, StepCount), bc2 = 1 - Math.Pow(Beta2, StepCount);
        var denom = ExpAvgSq.sqrt().div_(Math.Sqrt(bc2)).add_(Eps);
        Parameters.addcdiv_(scales is null ? ExpAvg : ExpAvg * scales, denom, value: -lr / bc1);
    }

    Tensor? LrScaleMask()
    {
        if (lrScaleMask is not null || segments.All(s => s.LrScale == 1)) return lrScaleMask;
        var mask = new float[Count];
        foreach (var (offset, length, _, scale) in segments) Array.Fill(mask, (float)scale, (int)offset, (int)length);
        lrScaleMask = tensor(mask, device: Parameters.device);
        lrScaleMask.DetachFromDisposeScope();
        return lrScaleMask;
    }

    Tensor DecayMask()
    {
        if (decayMask is not null) return decayMask;
        var mask = new float[Count];
        foreach (var (offset, length, decay, _) in segments) if (decay) Array.Fill(mask, 1f, (int)offset, (int)length);
        decayMask = tensor(mask, device: Parameters.device);
        decayMask.DetachFromDisposeScope();
        return decayMask;
    }

    /// <summary>One pass over p, g, m, v in chunks on the thread pool, the same arithmetic as torch's single-tensor AdamW in fp32.</summary>
    void FusedStep(Tensor grad, double lr, double gradScale, bool clear)
    {
        double bc1 = 1 - Math.Pow(Beta1, StepCount), bc2 = 1 - Math.Pow(Beta2, StepCount);
        Coefficients At(double rate) => new()
        {
            Scale = (float)gradScale, OneMinusB1 = (float)(1 - Beta1), B2 = (float)Beta2, OneMinusB2 = (float)(1 - Beta2),
            InvBc2Sqrt = (float)(1 / Math.Sqrt(bc2)), Eps = (float)Eps, StepSize = (float)(rate / bc1),
            Decoupled = Mode == WeightDecayMode.Decoupled ? (float)(1 - rate * WeightDecay) : 1f,
            L2 = Mode == WeightDecayMode.L2 ? (float)WeightDecay : 0f,
        };
        const long chunk = 1 << 18;
        var work = new List<(long Offset, long Length, bool Decay, Coefficients K)>();
        foreach (var (offset, length, decay, scale) in segments)
        {
            var k = At(lr * scale);
            for (long o = 0; o < length; o += chunk) work.Add((offset + o, Math.Min(chunk, length - o), decay, k));
        }
        int workers = Math.Max(1, Math.Min(Environment.ProcessorCount, get_num_threads()));
        var tensors = (Parameters, grad, ExpAvg, ExpAvgSq);
        Parallel.For(0, work.Count, new ParallelOptions { MaxDegreeOfParallelism = workers }, i =>
        {
            var (offset, length, decay, k) = work[i];
            var p = MemoryMarshal.Cast<byte, float>(tensors.Parameters.bytes).Slice((int)offset, (int)length);
            var g = MemoryMarshal.Cast<byte, float>(tensors.grad.bytes).Slice((int)offset, (int)length);
            var m = MemoryMarshal.Cast<byte, float>(tensors.ExpAvg.bytes).Slice((int)offset, (int)length);
            var v = MemoryMarshal.Cast<byte, float>(tensors.ExpAvgSq.bytes).Slice((int)offset, (int)length);
            Update(p, g, m, v, k, decay, clear);
        });
    }

    struct Coefficients
    {
        public float Scale, OneMinusB1, B2, OneMinusB2, InvBc2Sqrt, Eps, StepSize, Decoupled, L2;
    }

    static void Update(Span<float> p, Span<float> g, Span<float> m, Span<float> v, Coefficients k, bool decay, bool clear)
    {
        float keep = decay ? k.Decoupled : 1f, l2 = decay ? k.L2 : 0f;
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            int w = Vector<float>.Count;
            var vScale = new Vector<float>(k.Scale); var vL2 = new Vector<float>(l2); var vKeep = new Vector<float>(keep);
            var vA = new Vector<float>(k.OneMinusB1); var vB2 = new Vector<float>(k.B2); var vOneMinusB2 = new Vector<float>(k.OneMinusB2);
            var vInv = new Vector<float>(k.InvBc2Sqrt); var vEps = new Vector<float>(k.Eps); var vStep = new Vector<float>(k.StepSize);
            var pv = MemoryMarshal.Cast<float, Vector<float>>(p);
            var gv = MemoryMarshal.Cast<float, Vector<float>>(g);
            var mv = MemoryMarshal.Cast<float, Vector<float>>(m);
            var vv = MemoryMarshal.Cast<float, Vector<float>>(v);
            for (int j = 0; j < pv.Length; j++)
            {
                var pj = pv[j];
                var gj = gv[j] * vScale + vL2 * pj;
                pj *= vKeep;
                var mj = mv[j] + vA * (gj - mv[j]);
                var vj = vv[j] * vB2 + vOneMinusB2 * (gj * gj);
                var d = Vector.SquareRoot(vj) * vInv + vEps;
                pv[j] = pj - vStep * (mj / d);
                mv[j] = mj;
                vv[j] = vj;
                if (clear) gv[j] = Vector<float>.Zero;
            }
            i = pv.Length * w;
        }
        for (; i < p.Length; i++)
        {
            float pj = p[i];
            float gj = g[i] * k.Scale + l2 * pj;
            pj *= keep;
            float mj = m[i] + k.OneMinusB1 * (gj - m[i]);
            float vj = v[i] * k.B2 + k.OneMinusB2 * (gj * gj);
            float d = MathF.Sqrt(vj) * k.InvBc2Sqrt + k.Eps;
            p[i] = pj - k.StepSize * (mj / d);
            m[i] = mj;
            v[i] = vj;
            if (clear) g[i] = 0;
        }
    }

    /// <summary>Zeros every gradient (one op on the flat buffer).</summary>
    public void ZeroGrad()
    {
        using var _ = no_grad();
        Gradients.zero_();
    }

    public void Dispose()
    {
        decayMask?.Dispose();
        lrScaleMask?.Dispose();
        foreach (var v in gradViews) v.Dispose();
        Gradients.Dispose();
        ExpAvg.Dispose();
        ExpAvgSq.Dispose();
    }
}
