using Maskwork.Abstractions;
using Maskwork.Plugins.Graph;

namespace Maskwork.Plugins.Graph.Tests;

static class TinyGraphs
{
    public static string Datasets => Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../../../shared/datasets/graph"));
    public static string Cora => Path.Combine(Datasets, "cora");

    /// <summary>A graph of <paramref name="n"/> nodes with random features and a ring of undirected edges.</summary>
    public static GraphSample Ring(int n, int f, int seed = 0, bool sparse = false)
    {
        var rng = new Random(seed);
        var values = new float[n * f];
        for (int i = 0; i < values.Length; i++) values[i] = sparse ? (rng.NextDouble() < 0.05 ? 1f : 0f) : (float)rng.NextDouble();
        var src = new List<int>();
        var dst = new List<int>();
        for (int i = 0; i < n; i++) { src.Add(i); dst.Add((i + 1) % n); src.Add((i + 1) % n); dst.Add(i); }
        return new GraphSample(values, n, f, src.ToArray(), dst.ToArray(), Enumerable.Range(0, n).Select(i => i % 3).ToArray(),
            Enumerable.Range(0, n).Select(i => (NodeSplit)(i % 4)).ToArray(), $"ring{n}");
    }

    /// <summary>
    /// <paramref name="communities"/> × <paramref name="size"/> nodes; each community has a binary feature prototype
    /// (8 active of <paramref name="f"/>) that its nodes carry with two bits flipped, and each node links to 4 random
    /// members of its community: masked features are predictable from the neighbours.
    /// </summary>
    public static GraphSample Communities(int communities, int size, int f, int seed = 0)
    {
        var rng = new Random(seed);
        int n = communities * size;
        var values = new float[n * f];
        var prototypes = Enumerable.Range(0, communities).Select(_ => Enumerable.Range(0, f).OrderBy(_ => rng.Next()).Take(8).ToArray()).ToArray();
        var src = new List<int>();
        var dst = new List<int>();
        for (int i = 0; i < n; i++)
        {
            int c = i / size;
            foreach (var a in prototypes[c]) values[i * f + a] = 1;
            for (int k = 0; k < 2; k++) values[i * f + rng.Next(f)] = 1 - values[i * f + rng.Next(f)];
            for (int k = 0; k < 4; k++)
            {
                int j = c * size + rng.Next(size);
                if (j == i) continue;
                src.Add(i); dst.Add(j); src.Add(j); dst.Add(i);
            }
        }
        return new GraphSample(values, n, f, src.ToArray(), dst.ToArray(), Enumerable.Range(0, n).Select(i => i / size).ToArray(),
            Enumerable.Range(0, n).Select(i => (NodeSplit)(i % 4)).ToArray(), "communities");
    }

    /// <summary>Same shape and every element equal.</summary>
    public static bool Same(this TorchSharp.torch.Tensor a, TorchSharp.torch.Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    public static string Write(string dir, string name, string text)
    {
        string path = Path.Combine(dir, name);
        File.WriteAllText(path, text);
        return path;
    }
}

static class SingleThreaded
{
    /// <summary>The graphs here are tiny: one torch thread avoids thread hand-offs that dominate (and, on a busy machine, stall) small ops.</summary>
    [System.Runtime.CompilerServices.ModuleInitializer]
    internal static void Init() => TorchSharp.torch.set_num_threads(1);
}
