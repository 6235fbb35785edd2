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

    /// <summary>Same shape and every element equal.</summary>
    public static bool Same(this TorchSharp.torch.Tensor a, TorchSharp.torch.Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    public static string Write(string dir, string name, string text)
    {
        string path = Path.Combine(dir, name);
        File.WriteAllText(path, text);
        return path;
    }
}
