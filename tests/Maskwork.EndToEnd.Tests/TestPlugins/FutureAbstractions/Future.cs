namespace Maskwork.Abstractions;

/// <summary>A contract the host's Maskwork.Abstractions does not have.</summary>
public interface IFutureContract
{
    string Horizon { get; }
}
