using System.Runtime.CompilerServices;
using Maskwork.Abstractions;

namespace E2E.Probe;

/// <summary>
/// A minimal working plugin (id "e2e.probe"): reader <c>e2e.probe:N</c> yields N samples of shape [1,4].
/// A file named <c>register-throws</c> next to the assembly makes <see cref="Register"/> throw.
/// </summary>
public sealed class ProbePlugin : IModalityPlugin
{
    public PluginInfo Info { get; } = new("e2e.probe", "1.0.0", "end-to-end test probe");

    public void Register(IComponentRegistry registry)
    {
        string folder = Path.GetDirectoryName(typeof(ProbePlugin).Assembly.Location)!;
        if (File.Exists(Path.Combine(folder, "register-throws")))
            throw new InvalidOperationException("the probe was told to fail in Register");
        registry.AddReader(new CountReader());
    }

    sealed class CountReader : IDatasetReader
    {
        public string Name => "e2e.probe";
        public string Description => "N samples of shape [1,4]";

        public async IAsyncEnumerable<Sample> ReadAsync(DataSpec spec, IDataIssues issues, [EnumeratorCancellation] CancellationToken ct)
        {
            int n = int.Parse(spec.Path, System.Globalization.CultureInfo.InvariantCulture);
            for (int i = 0; i < n; i++)
            {
                await Task.Yield();
                yield return new Sample([i, i, i, i], [1, 4], i % 2, $"probe#{i}");
            }
        }
    }
}
