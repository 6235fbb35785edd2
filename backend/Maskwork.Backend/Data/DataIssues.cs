using System.Collections.Concurrent;
using Maskwork.Abstractions;

namespace Maskwork.Backend.Data;

/// <summary>Collects skipped inputs (or fails fast) for one read.</summary>
public sealed class DataIssueLog(bool failFast = false) : IDataIssues
{
    readonly ConcurrentQueue<(string File, string Reason)> items = new();

    public IReadOnlyCollection<(string File, string Reason)> Items => items;
    public int Count => items.Count;

    public void Skip(string file, string reason)
    {
        if (failFast) throw new InvalidDataFileException(file, reason);
        items.Enqueue((file, reason));
    }
}
