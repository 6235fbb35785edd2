using Maskwork.Abstractions;

namespace E2E.Future;

/// <summary>Implements a contract only the stand-in abstractions have: the host cannot load this type.</summary>
public sealed class FuturePlugin : IModalityPlugin, IFutureContract
{
    public PluginInfo Info { get; } = new("e2e.future", "1.0.0", "built against an incompatible Maskwork.Abstractions");
    public string Horizon => "later";
    public void Register(IComponentRegistry registry) { }
}
