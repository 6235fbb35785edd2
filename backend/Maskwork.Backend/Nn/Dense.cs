using Maskwork.Backend.Devices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Maskwork.Backend.Nn;

/// <summary>
/// A linear layer with fp32 master weights that multiplies in <see cref="Precision.Compute"/>.
/// Output is in the compute dtype; consumers that need fp32 (norms, losses) cast.
/// Xavier-uniform weights and zero bias, as MAE initialises its linears.
/// </summary>
public sealed class Dense : nn.Module<Tensor, Tensor>
{
    readonly Parameter weight;
    readonly Parameter? bias;

    public Dense(long inFeatures, long outFeatures, bool hasBias = true) : base(nameof(Dense))
    {
        weight = nn.Parameter(empty(outFeatures, inFeatures));
        nn.init.xavier_uniform_(weight);
        if (hasBias) bias = nn.Parameter(zeros(outFeatures));
        RegisterComponents();
    }

    public long OutFeatures => weight.shape[0];

    public override Tensor forward(Tensor x)
    {
        var dt = Precision.Compute;
        if (dt == ScalarType.Float32 && x.dtype == ScalarType.Float32)
            return nn.functional.linear(x, weight, bias);
        return nn.functional.linear(x.to_type(dt), weight.to_type(dt), bias?.to_type(dt));
    }
}

/// <summary>LayerNorm that always normalises in fp32, whatever the input dtype.</summary>
public sealed class Norm : nn.Module<Tensor, Tensor>
{
    readonly Parameter weight;
    readonly Parameter bias;
    readonly long[] shape;

    public Norm(long dim) : base(nameof(Norm))
    {
        weight = nn.Parameter(ones(dim));
        bias = nn.Parameter(zeros(dim));
        shape = [dim];
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) =>
        nn.functional.layer_norm(x.dtype == ScalarType.Float32 ? x : x.to_type(ScalarType.Float32), shape, weight, bias, 1e-6);
}
