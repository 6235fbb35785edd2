using Maskwork.Plugins.Graph.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace Maskwork.Plugins.Graph.Tests;

public class MessagePassingTests
{
    // Edges (src → dst): 0→2, 1→2, 2→2, 2→0. Node 1 has no incoming edge.
    static Tensor Edges() => tensor(new long[] { 0, 1, 2, 2, 2, 2, 2, 0 }, [2, 4]);

    [Fact]
    public void Edge_softmax_normalises_over_each_targets_incoming_edges()
    {
        var scores = tensor(new float[] { 0, (float)Math.Log(2), (float)Math.Log(5), 3 }, [4, 1]);
        var alpha = MessagePassing.EdgeSoftmax(scores, Edges()[1], 3).view(-1).data<float>().ToArray();
        // Into node 2: exp(0), exp(ln 2), exp(ln 5) = 1, 2, 5 → 1/8, 2/8, 5/8. Into node 0: a single edge → 1.
        Assert.Equal(new[] { 0.125f, 0.25f, 0.625f, 1f }, alpha.Select(a => (float)Math.Round(a, 6)));
    }

    [Fact]
    public void Segment_max_matches_a_loop_and_is_zero_without_incoming_edges()
    {
        manual_seed(3);
        long n = 7, e = 40;
        var target = randint(0, n - 1, [e]);  // node n-1 never a target
        var values = randn(e, 3);
        var max = MessagePassing.SegmentMax(values, target, n);
        var t = target.data<long>().ToArray();
        for (int v = 0; v < n; v++)
            for (int h = 0; h < 3; h++)
            {
                var mine = Enumerable.Range(0, (int)e).Where(k => t[k] == v).Select(k => values[k, h].item<float>()).ToList();
                Assert.Equal(mine.Count == 0 ? 0f : mine.Max(), max[v, h].item<float>());
            }
    }

    [Fact]
    public void Aggregate_sums_weighted_source_values_into_targets()
    {
        var values = tensor(new float[] { 1, 10, 2, 20, 3, 30 }, [3, 1, 2]);   // node u has (u+1, 10(u+1))
        var weights = tensor(new float[] { 0.5f, 0.25f, 1f, 2f }, [4, 1]);
        var edges = Edges();
        var output = MessagePassing.Aggregate(values, weights, edges[0], edges[1], 3).view(3, 2);
        // node 0 ← 2·(node 2) = (6, 60); node 1 ← nothing; node 2 ← 0.5·(1,10) + 0.25·(2,20) + 1·(3,30) = (4, 40).
        Assert.Equal(new float[] { 6, 60, 0, 0, 4, 40 }, output.data<float>().ToArray());
    }

    [Fact]
    public void Gat_layer_equals_a_hand_computed_layer()
    {
        // One head, identity projection, attention vectors a_l = (1, 0), a_r = (0, 1), no bias, slope 0.2.
        var layer = new GatConv(2, 2, 1, new GatLayerOptions(NegativeSlope: 0.2));
        using (no_grad())
        {
            var p = layer.named_parameters().ToDictionary(x => x.name, x => x.parameter);
            p["weight"].copy_(eye(2));
            p["attn_l"].copy_(tensor(new float[] { 1, 0 }, [1, 1, 2]));
            p["attn_r"].copy_(tensor(new float[] { 0, 1 }, [1, 1, 2]));
        }
        layer.eval();
        var x = tensor(new float[] { 1, 0, 0, 2, 3, -1 }, [3, 2]);
        var output = layer.forward(x, Edges());
        // Node 2 receives from 0, 1, 2 with scores el_u + er_2 = x_u[0] + x_2[1] = 0, -1, 2 → LeakyReLU → 0, -0.2, 2.
        double e0 = Math.Exp(0), e1 = Math.Exp(-0.2), e2 = Math.Exp(2), s = e0 + e1 + e2;
        var node2 = new[] { (e0 * 1 + e1 * 0 + e2 * 3) / s, (e0 * 0 + e1 * 2 + e2 * -1) / s };
        // Node 0 receives only from node 2 → x_2; node 1 receives nothing → 0 (bias is zero).
        var expected = new[] { 3, -1, 0, 0, node2[0], node2[1] };
        var actual = output.data<float>().ToArray();
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], 5);
    }

    [Fact]
    public void Target_only_forward_equals_the_full_layer_for_one_head()
    {
        manual_seed(5);
        var layer = new GatConv(6, 4, 1, new GatLayerOptions(0.2, 0.1));
        layer.eval();
        var x = randn(5, 6);
        var edges = tensor(new long[] { 0, 1, 2, 3, 4, 0, 2, 4, 1, 1, 2, 3, 4, 0, 4, 2, 0, 0 }, [2, 9]);
        var targets = tensor(new long[] { 4, 1, 3 });
        var full = layer.forward(x, edges).index_select(0, targets);
        Assert.True(layer.Forward(x, edges, targets).allclose(full, rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void Multi_head_layer_concatenates_heads_and_runs_backward()
    {
        manual_seed(1);
        var layer = new GatConv(6, 3, 4, new GatLayerOptions(0.2, 0.1, Residual: true, Activation: "prelu", Norm: "layernorm"));
        var x = randn(5, 6, requires_grad: true);
        var edges = tensor(new long[] { 0, 1, 2, 3, 4, 1, 2, 3, 4, 0 }, [2, 5]);
        var y = layer.forward(x, edges);
        Assert.Equal(new long[] { 5, 12 }, y.shape);
        y.sum().backward();
        Assert.True(layer.parameters().All(p => p.grad is not null));
    }
}
