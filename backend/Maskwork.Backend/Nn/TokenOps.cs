using static TorchSharp.torch;

namespace Maskwork.Backend.Nn;

/// <summary>Small index helpers shared by encoders, decoders and objectives.</summary>
public static class TokenOps
{
    /// <summary>Selects tokens: x [B,N,D], index [B,K] → [B,K,D].</summary>
    public static Tensor Gather(Tensor x, Tensor index) =>
        x.gather(1, index.unsqueeze(-1).expand(index.shape[0], index.shape[1], x.shape[2]));

    /// <summary>
    /// Puts <paramref name="visible"/> [B,Nv,D] and <paramref name="masked"/> [B,Nm,D] back at their
    /// token positions: the inverse of splitting by a mask plan.
    /// </summary>
    public static Tensor Unshuffle(Tensor visible, Tensor masked, Tensor visibleIndex, Tensor maskedIndex)
    {
        var all = cat([visible, masked], 1);
        var index = cat([visibleIndex, maskedIndex], 1);
        var restore = index.argsort(1);
        return Gather(all, restore);
    }
}
