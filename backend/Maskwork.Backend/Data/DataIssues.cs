using System.Collections.Concurrent;
using Maskwork.Abstractions;

namespace Maskwork.Backend.Data;

/// <summary>Collects skipped inputs (or fails fast) for one read.</summary>
public sealed class DataIssueLog(bool failFast = false) : IDataIssues
{
    readonly ConcurrentQueue<(string File, string Reason)> items = new();

    long extraSamples;

    public IReadOnlyCollection<(string File, string Reason)> Items => items;
    public int Count => items.Count;

    /// <summary>Samples lost to the skipped inputs: one per skipped file, plus the rows of skipped shards and row groups.</summary>
    public long SkippedSamples => items.Count + Interlocked.Read(ref extraSamples);

    /// <summary>Whether a skip throws instead (FailOnBadInput).</summary>
    public bool FailFast => failFast;

    public void Skip(string file, string reason)
    {
        if (failFast) throw new InvalidDataFileException(file, reason);
        items.Enqueue((file, reason));
    }

    /// <summary>Records that <paramref name="file"/> and the <paramref name="samples"/> samples in it were skipped.</summary>
    public void Skip(string file, string reason, long samples)
    {
        Skip(file, reason);
        if (samples > 1) Interlocked.Add(ref extraSamples, samples - 1);
    }
}
