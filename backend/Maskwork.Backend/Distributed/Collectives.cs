using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Maskwork.Backend.Distributed;

/// <summary>Collectives on tensors and strings, over any <see cref="ICommunicator"/>.</summary>
public static class Collectives
{
    /// <summary>
    /// Elements per all-reduce call. Fixed, so the reduction (OpenMPI picks its algorithm by message
    /// size) and so the summation order are the same in every step and every run (1 Mi floats, 4 MiB).
    /// </summary>
    public const int DefaultChunk = 1 << 20;

    /// <summary>
    /// Sums a float32 or bf16 tensor over all ranks, in place, in chunks of <paramref name="chunk"/> elements.
    /// A CPU float32 contiguous tensor is reduced in its own memory; a bf16 one is summed in fp32 and
    /// rounded once; a tensor on another device goes through a CPU copy of each chunk.
    /// </summary>
    public static void AllReduceSum(ICommunicator comm, Tensor tensor, int chunk = DefaultChunk)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunk, 1);
        if (comm.Size == 1) return;
        if (tensor.dtype is not (ScalarType.Float32 or ScalarType.BFloat16))
            throw new ArgumentException($"all-reduce takes float32 or bf16 tensors, not {tensor.dtype}");
        if (!tensor.is_contiguous()) throw new ArgumentException("all-reduce needs a contiguous tensor (it reduces the memory in place)");
        using var _ = no_grad();
        var flat = tensor.view(-1);
        long n = flat.numel();
        bool direct = tensor.device_type == DeviceType.CPU && tensor.dtype == ScalarType.Float32;
        float[] staging = direct ? [] : new float[Math.Min(n, chunk)];
        for (long at = 0; at < n; at += chunk)
        {
            int count = (int)Math.Min(chunk, n - at);
            using var part = flat.narrow(0, at, count);
            if (direct) comm.AllReduceSum(MemoryMarshal.Cast<byte, float>(part.bytes));
            else
            {
                using (var f = part.to(ScalarType.Float32).cpu()) MemoryMarshal.Cast<byte, float>(f.bytes).CopyTo(staging);
                var span = new Span<float>(staging, 0, count);
                comm.AllReduceSum(span);
                using var back = torch.tensor(staging, [staging.Length]).narrow(0, 0, count);
                part.copy_(back);
            }
        }
    }

    /// <summary>Copies a tensor's values from rank <paramref name="root"/> to every rank (any dtype, any device), in place.</summary>
    public static void Broadcast(ICommunicator comm, Tensor tensor, int root = 0)
    {
        if (comm.Size == 1) return;
        using var _ = no_grad();
        if (tensor.device_type == DeviceType.CPU && tensor.is_contiguous())
        {
            comm.Broadcast(tensor.bytes, root);
            return;
        }
        using var host = tensor.detach().cpu().contiguous();
        comm.Broadcast(host.bytes, root);
        tensor.copy_(host);
    }

    /// <summary>Rank <paramref name="root"/>'s <paramref name="value"/> on every rank (others pass anything, e.g. null).</summary>
    public static string? Broadcast(ICommunicator comm, string? value, int root = 0)
    {
        if (comm.Size == 1) return value;
        byte[] bytes = comm.Rank == root && value is not null ? Encoding.UTF8.GetBytes(value) : [];
        var length = new byte[8];
        if (comm.Rank == root) BitConverter.TryWriteBytes(length, value is null ? -1L : bytes.LongLength);
        comm.Broadcast(length, root);
        long n = BitConverter.ToInt64(length);
        if (n < 0) return null;
        if (comm.Rank != root) bytes = new byte[n];
        comm.Broadcast(bytes, root);
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>
    /// True on every rank when every rank's <paramref name="tensors"/> hold the same bytes (a SHA-256 of
    /// them, compared with rank 0's): data-parallel replicas must stay bitwise identical.
    /// </summary>
    public static bool Identical(ICommunicator comm, IEnumerable<Tensor> tensors)
    {
        if (comm.Size == 1) return true;
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var t in tensors)
        {
            using var c = t.detach().cpu().contiguous();
            sha.AppendData(c.bytes);
        }
        byte[] mine = sha.GetHashAndReset(), root = (byte[])mine.Clone();
        comm.Broadcast(root);
        var differ = new[] { mine.AsSpan().SequenceEqual(root) ? 0.0 : 1.0 };
        comm.AllReduceSum(differ);
        return differ[0] == 0;
    }
}
