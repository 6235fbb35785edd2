using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Plugins.Graph.Readers;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Graph.Tests;

public class ReaderTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("mw-graph-").FullName;

    public void Dispose() => Directory.Delete(dir, true);

    static async Task<(List<Sample> Samples, DataIssueLog Issues)> Read(IDatasetReader reader, DataSpec spec, bool failFast = false)
    {
        var issues = new DataIssueLog(failFast);
        var list = new List<Sample>();
        await foreach (var s in reader.ReadAsync(spec, issues, CancellationToken.None)) list.Add(s);
        return (list, issues);
    }

    [Fact]
    public async Task Planetoid_reads_real_cora_with_its_public_split()
    {
        var (samples, issues) = await Read(new PlanetoidReader(), new DataSpec("planetoid", TinyGraphs.Cora) { Split = "train" });
        Assert.Equal(0, issues.Count);
        var g = Assert.IsType<GraphSample>(Assert.Single(samples));
        Assert.Equal((2708, 1433, 10556, 7), (g.NodeCount, g.FeatureDim, g.EdgeCount, g.ClassCount));
        Assert.Equal(140, g.NodeSplits.Count(s => s == NodeSplit.Train));
        Assert.Equal(500, g.NodeSplits.Count(s => s == NodeSplit.Val));
        Assert.Equal(1000, g.NodeSplits.Count(s => s == NodeSplit.Test));
        Assert.All(Enumerable.Range(0, 7), c => Assert.Equal(20, Enumerable.Range(0, 2708).Count(i => g.NodeSplits[i] == NodeSplit.Train && g.NodeLabels[i] == c)));
        // Row 0 of nodes.csv: 0,3,train,19,81,146,315,774,877,1194,1247,1274
        Assert.Equal(3, g.NodeLabels[0]);
        var active = Enumerable.Range(0, 1433).Where(j => g.Values[j] == 1f).ToArray();
        Assert.Equal(new[] { 19, 81, 146, 315, 774, 877, 1194, 1247, 1274 }, active);
        Assert.Equal(0, Enumerable.Range(0, g.EdgeCount).Count(k => g.EdgeSource[k] == g.EdgeTarget[k]));

        var tokens = new GraphTokenizer().Tokenize([g], CPU);
        Assert.Equal(new long[] { 1, 2708, 1433 }, tokens.Tokens.shape);
        Assert.Equal(new long[] { 2, 10556 + 2708 }, tokens.Extras[GraphTokenizer.EdgeIndexKey].shape);
        Assert.True(tokens.Tokens[0, 0].sum().item<float>() is > 0.9999f and < 1.0001f);
    }

    [Fact]
    public async Task Planetoid_errors_name_the_file_and_line()
    {
        var src = TinyGraphs.Write(dir, "nodes.csv", "index,label,split,active_feature_indices...\n0,1,train,0,2\n1,0,val,1\n2,1,test,\n");
        TinyGraphs.Write(dir, "edges.csv", "src,dst\n0,1\n1,0\n1,2\n2,1\n");
        var (ok, _) = await Read(new PlanetoidReader(), new DataSpec("planetoid", dir));
        var g = Assert.IsType<GraphSample>(Assert.Single(ok));
        Assert.Equal((3, 3, 4), (g.NodeCount, g.FeatureDim, g.EdgeCount));
        Assert.Equal(new float[] { 1, 0, 1, 0, 1, 0, 0, 0, 0 }, g.Values);

        File.WriteAllText(src, "index,label,split,active_feature_indices...\n0,1,train,0,2\n1,0\n2,1,test,\n");
        var (none, issues) = await Read(new PlanetoidReader(), new DataSpec("planetoid", dir));
        Assert.Empty(none);
        var (file, reason) = Assert.Single(issues.Items);
        Assert.Equal(src, file);
        Assert.StartsWith("line 3: 2 columns", reason);

        File.WriteAllText(src, "index,label,split,active_feature_indices...\n0,1,train,0,2\n1,0,val,1\n2,1,test,\n");
        var edges = TinyGraphs.Write(dir, "edges.csv", "src,dst\n0,1\n1,0\n1,9\n");
        var e = await Assert.ThrowsAsync<InvalidDataFileException>(() => Read(new PlanetoidReader(), new DataSpec("planetoid", dir), failFast: true));
        Assert.Equal(edges, e.File);
        Assert.Contains("line 4", e.Reason);
        Assert.Contains("node 9", e.Reason);
        Assert.Contains("edges.csv: line 4", e.Message);

        File.WriteAllText(edges, "src,dst\n0,1,5\n");
        (_, issues) = await Read(new PlanetoidReader(), new DataSpec("planetoid", dir));
        Assert.StartsWith("line 2: 3 columns", Assert.Single(issues.Items).Reason);
        File.WriteAllText(edges, "src,dst\n0,1\n");
        File.WriteAllText(src, "index,label,split\n0,1,train,x\n1,0,val,1\n");
        (_, issues) = await Read(new PlanetoidReader(), new DataSpec("planetoid", dir));
        Assert.Contains("line 2: feature index 'x'", Assert.Single(issues.Items).Reason);
        await Assert.ThrowsAsync<DirectoryNotFoundException>(() => Read(new PlanetoidReader(), new DataSpec("planetoid", Path.Combine(dir, "missing"))));
    }

    [Fact]
    public async Task Edge_list_reads_features_labels_and_symmetrises()
    {
        TinyGraphs.Write(dir, "edges.txt", "# a comment\n10 20\n20\t30\n30 10 0.5\n");
        TinyGraphs.Write(dir, "features.csv", "id,a,b\n10,1.5,0\n20,0,2\n30,1,1\n");
        TinyGraphs.Write(dir, "labels.txt", "10 0 train\n20 1 test\n");
        var (samples, issues) = await Read(new EdgeListReader(), new DataSpec("edge-list", dir));
        Assert.Equal(0, issues.Count);
        var g = Assert.IsType<GraphSample>(Assert.Single(samples));
        Assert.Equal((3, 2, 6), (g.NodeCount, g.FeatureDim, g.EdgeCount));
        Assert.Equal(new float[] { 1.5f, 0, 0, 2, 1, 1 }, g.Values);
        Assert.Equal(new[] { 0, 1, -1 }, g.NodeLabels);
        Assert.Equal(new[] { NodeSplit.Train, NodeSplit.Test, NodeSplit.None }, g.NodeSplits);

        var directed = (await Read(new EdgeListReader(), new DataSpec("edge-list", dir) { Options = new Dictionary<string, string> { ["undirected"] = "false" } })).Samples;
        Assert.Equal(3, ((GraphSample)directed[0]).EdgeCount);

        var features = TinyGraphs.Write(dir, "features.csv", "id,a,b\n10,1.5,0\n20,0\n30,1,1\n");
        var (_, bad) = await Read(new EdgeListReader(), new DataSpec("edge-list", dir));
        var (file, reason) = Assert.Single(bad.Items);
        Assert.Equal(features, file);
        Assert.StartsWith("line 3: 1 feature values where earlier nodes have 2", reason);

        File.WriteAllText(features, "id,a,b\n10,1.5,0\n20,0,2\n30,1,1\n");
        var edges = TinyGraphs.Write(dir, "edges.txt", "10 20\n20 40\n");
        (_, bad) = await Read(new EdgeListReader(), new DataSpec("edge-list", dir));
        (file, reason) = Assert.Single(bad.Items);
        Assert.Equal(edges, file);
        Assert.StartsWith("line 2: edge 20->40 refers to node 40", reason);
    }

    [Fact]
    public async Task Graph_parquet_round_trips_and_names_bad_rows()
    {
        var graph = TinyGraphs.Ring(12, 5, seed: 4);
        await GraphParquetReader.WriteAsync(dir, graph);
        var (samples, issues) = await Read(new GraphParquetReader(), new DataSpec("graph-parquet", dir));
        Assert.Equal(0, issues.Count);
        var g = Assert.IsType<GraphSample>(Assert.Single(samples));
        Assert.Equal(graph.Values, g.Values);
        Assert.Equal(graph.EdgeSource, g.EdgeSource);
        Assert.Equal(graph.EdgeTarget, g.EdgeTarget);
        Assert.Equal(graph.NodeLabels, g.NodeLabels);
        Assert.Equal(graph.NodeSplits, g.NodeSplits);

        var broken = new GraphSample(graph.Values, 12, 5, [0, 1, 2], [1, 2, 3], graph.NodeLabels, graph.NodeSplits, "x");
        await GraphParquetReader.WriteAsync(dir, broken);
        var edges = Path.Combine(dir, "edges.parquet");
        await using (var fs = File.Create(edges))
            await Parquet.Serialization.ParquetSerializer.SerializeAsync(new[] { new GraphParquetReader.EdgeRow { Src = 0, Dst = 1 }, new GraphParquetReader.EdgeRow { Src = 1, Dst = 99 } }, fs);
        (_, issues) = await Read(new GraphParquetReader(), new DataSpec("graph-parquet", dir));
        var (file, reason) = Assert.Single(issues.Items);
        Assert.Equal(edges, file);
        Assert.StartsWith("row 2: edge 1->99 refers to node 99", reason);

        File.WriteAllText(edges, "not parquet");
        (_, issues) = await Read(new GraphParquetReader(), new DataSpec("graph-parquet", dir));
        Assert.Contains("not a readable edges table", Assert.Single(issues.Items).Reason);
    }

    [Fact]
    public void Tokenizer_inverts_and_unions_graphs()
    {
        var a = TinyGraphs.Ring(5, 3, seed: 1);
        var b = TinyGraphs.Ring(4, 3, seed: 2);
        var tokenizer = new GraphTokenizer();
        var tokens = tokenizer.Tokenize([a, b], CPU);
        Assert.Equal(new long[] { 1, 9, 3 }, tokens.Tokens.shape);
        Assert.True(tokenizer.Detokenize(tokens.Tokens, tokens).view(-1).allclose(tensor(a.Values.Concat(b.Values).ToArray()), rtol: 1e-6, atol: 1e-6));
        var edges = tokens.Extras[GraphTokenizer.EdgeIndexKey];
        Assert.Equal(10 + 8 + 9, edges.shape[1]);
        // b's edges are offset by a's 5 nodes and stay inside b.
        var src = edges[0].data<long>().ToArray();
        var dst = edges[1].data<long>().ToArray();
        Assert.All(Enumerable.Range(0, src.Length), k => Assert.Equal(src[k] >= 5, dst[k] >= 5));
        Assert.Equal(new long[] { 1, 9 }, tokens.Labels!.shape);
        Assert.Throws<InvalidDataFileException>(() => tokenizer.Tokenize([new Sample([1f], [1], 0, "img")], CPU));
    }
}
