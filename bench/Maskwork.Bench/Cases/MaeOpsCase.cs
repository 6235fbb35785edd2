using Maskwork.Backend.Devices;
using Maskwork.Backend.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Maskwork.Bench.Cases;

/// <summary>Diagnostic: forward+backward time of the MAE-Tiny building blocks at their real shapes, in one precision.</summary>
public sealed class MaeOpsCase : IBenchCase
{
    public string Name => "mae-ops";
    public string Summary => "diagnostic: fwd+bwd ms of MAE-Tiny blocks (encoder block, decoder block, norm, sdpa, gelu) --precision";

    static double Time(Action a) => Math.Round(Timing.Best(a), 2);

    public Task<int> RunAsync(BenchArgs args)
    {
        MaeTiny.Threads(args);
        var precision = Precision.Parse(args.String("precision", "fp32"));
        using var _ = Precision.Use(precision);
        int batch = args.Int("batch", 128);
        var results = new Dictionary<string, double>();
        void FwdBwd(string name, Func<Tensor, Tensor> f, long[] shape, ScalarType dtype = ScalarType.Float32)
        {
            using var input = randn(shape).to_type(dtype);
            results[name + "_fwd"] = Time(() => { using var s = NewDisposeScope(); using var ng = no_grad(); f(input); });
            results[name + "_fwdbwd"] = Time(() =>
            {
                using var s = NewDisposeScope();
                var x = input.detach().requires_grad_();
                f(x).to_type(ScalarType.Float32).sum().backward();
            });
        }
        var enc = new TransformerBlock(192, 3);
        var dec = new TransformerBlock(128, 4);
        var dense = new Dense(192, 768);
        var norm = new Norm(192);
        var cdt = precision;
        FwdBwd("enc_block", x => enc.forward(x), [batch, 12, 192]);
        FwdBwd("dec_block", x => dec.forward(x), [batch, 49, 128]);
        FwdBwd("dense_192x768", x => dense.forward(x), [batch, 12, 192]);
        var w768 = nn.Parameter(randn(768, 192) * 0.05);
        var b768 = nn.Parameter(zeros(768));
        FwdBwd("linear_1536x192x768", x => nn.functional.linear(x, w768, b768), [1536, 192]);
        FwdBwd("conv1x1_1536x192x768", x => nn.functional.conv2d(x.view(1, 1536, 1, 192).permute(0, 3, 1, 2), w768.view(768, 192, 1, 1), b768, dilation: [2, 1]).permute(0, 2, 3, 1).reshape(1536, 768), [1536, 192]);
        FwdBwd("linear_6272x128x512", x => nn.functional.linear(x, w768[..512, ..128], b768[..512]), [6272, 128]);
        FwdBwd("conv1x1_6272x128x512", x => nn.functional.conv2d(x.view(1, 6272, 1, 128).permute(0, 3, 1, 2), w768[..512, ..128].contiguous().view(512, 128, 1, 1), b768[..512], dilation: [2, 1]).permute(0, 2, 3, 1).reshape(6272, 512), [6272, 128]);
        FwdBwd("norm_192", x => norm.forward(x), [batch, 12, 192], cdt);
        FwdBwd("sdpa_enc", x => nn.functional.scaled_dot_product_attention(x, x, x), [batch, 3, 12, 64], cdt);
        FwdBwd("sdpa_dec", x => nn.functional.scaled_dot_product_attention(x, x, x), [batch, 4, 49, 32], cdt);
        Attention.Kernel = AttentionKernel.Batched;
        FwdBwd("batched_attn_enc", x => Attention.Compute(x, x, x), [batch, 3, 12, 64], cdt);
        FwdBwd("batched_attn_dec", x => Attention.Compute(x, x, x), [batch, 4, 49, 32], cdt);
        FwdBwd("enc_block_batched", x => enc.forward(x), [batch, 12, 192]);
        FwdBwd("dec_block_batched", x => dec.forward(x), [batch, 49, 128]);
        Attention.Kernel = AttentionKernel.Sdpa;
        FwdBwd("enc_block_sdpa", x => enc.forward(x), [batch, 12, 192]);
        FwdBwd("dec_block_sdpa", x => dec.forward(x), [batch, 49, 128]);
        Attention.Kernel = AttentionKernel.Auto;
        FwdBwd("gelu_dec", x => nn.functional.gelu(x), [batch, 49, 512], cdt);
        FwdBwd("cast_dec", x => x.to_type(cdt == ScalarType.Float32 ? ScalarType.BFloat16 : ScalarType.Float32), [batch, 49, 128]);
        FwdBwd("add_dec", x => x + x.to_type(cdt), [batch, 49, 128]);
        results["load1"] = MaeTiny.Load1();
        BenchArgs.Emit(new { @case = Name, precision = Precision.Name(precision), batch, ms = results });
        return Task.FromResult(0);
    }
}
