namespace Maskwork.Backend.Distributed;

/// <summary>
/// The collectives data-parallel training needs (DESIGN.md section 11): who am I, how many are we,
/// in-place sum all-reduce, broadcast and barrier. Every rank calls every collective in the same
/// order with the same sizes; a rank that stops calling leaves the others waiting, so a failing rank
/// calls <see cref="Abort"/>, which ends the whole job.
/// </summary>
public interface ICommunicator : IDisposable
{
    /// <summary>"single" or "openmpi" (and later "nccl").</summary>
    string Kind { get; }

    /// <summary>This process's rank, 0 ≤ Rank &lt; Size.</summary>
    int Rank { get; }

    /// <summary>Processes in the job (the world size).</summary>
    int Size { get; }

    /// <summary>This process's rank among the ranks on its machine.</summary>
    int LocalRank { get; }

    /// <summary>Ranks on this process's machine (they share its cores).</summary>
    int LocalSize { get; }

    /// <summary>Replaces every element with its sum over all ranks (each rank gets the same bits).</summary>
    void AllReduceSum(Span<float> buffer);

    /// <summary>Replaces every element with its sum over all ranks.</summary>
    void AllReduceSum(Span<double> buffer);

    /// <summary>Copies <paramref name="buffer"/> from rank <paramref name="root"/> to every rank.</summary>
    void Broadcast(Span<byte> buffer, int root = 0);

    /// <summary>Returns when every rank has called it.</summary>
    void Barrier();

    /// <summary>Ends every rank of the job with exit code <paramref name="code"/>; does not return.</summary>
    void Abort(int code);
}

/// <summary>The one-process communicator: rank 0 of 1, every collective a no-op.</summary>
public sealed class SingleProcess : ICommunicator
{
    public static SingleProcess Instance { get; } = new();

    public string Kind => "single";
    public int Rank => 0;
    public int Size => 1;
    public int LocalRank => 0;
    public int LocalSize => 1;
    public void AllReduceSum(Span<float> buffer) { }
    public void AllReduceSum(Span<double> buffer) { }
    public void Broadcast(Span<byte> buffer, int root = 0) => ArgumentOutOfRangeException.ThrowIfNotEqual(root, 0);
    public void Barrier() { }
    public void Abort(int code) => Environment.Exit(code);
    public void Dispose() { }
}
