using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Maskwork.Backend.Masking;
using Maskwork.Backend.Training;
using static TorchSharp.torch;

namespace Maskwork.Backend.Tests;

/// <summary>Masks keyed by sample through the real trainer: the slicing does not change them.</summary>
public class MaskKeyTrainingTests
{
    /// <summary>Random masking that records each sample's masked set (by its key) per step.</summary>
    sealed class Recording(IMasker inner) : IMasker
    {
        public System.Collections.Concurrent.ConcurrentDictionary<(long Step, long Key), string> Masks { get; } = [];

        public MaskPlan Plan(TokenBatch tokens, MaskContext context)
        {
            var plan = inner.Plan(tokens, context);
            var keys = tokens.SampleKeys!.data<long>().ToArray();
            var sorted = plan.Masked.sort(1).Values;
            for (int i = 0; i < keys.Length; i++) Masks[(context.Step, keys[i])] = string.Join(',', sorted[i].data<long>().ToArray());
            return plan;
        }
    }

    static (Trainer, Recording) Make(int workers, List<Sample> data)
    {
        manual_seed(5);
        var masker = new Recording(new RandomMasker(0.5));
        var parts = Synthetic.Parts() with { IndependentSamples = true, Masker = masker };
        var options = Synthetic.Train(10) with { Workers = workers, Batch = 7 };
        return (new Trainer(new TrainerSetup("test/seq", parts, options, 5, CPU, ScalarType.Float32), new SampleSet(data)), masker);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void One_and_two_workers_draw_identical_masks_and_train_alike(bool indexed)
    {
        // The key is the sample's global index in its source: SampleSet assigns 0..41 whatever a reader left in Index,
        // so keys never depend on the batch position, the slice or the worker count.
        var data = Synthetic.Samples(42).Select((s, i) => indexed ? s with { Index = 1000 + i } : s).ToList();
        var (one, m1) = Make(1, data);
        var (two, m2) = Make(2, data);
        using (one)
        using (two)
        {
            Assert.Equal(2, two.Workers);
            one.Run(10, CancellationToken.None);
            two.Run(10, CancellationToken.None);
            Assert.Equal(70, m1.Masks.Count);
            Assert.Equal(m1.Masks.OrderBy(kv => kv.Key).ToList(), m2.Masks.OrderBy(kv => kv.Key).ToList());
            Assert.All(m1.Masks.Keys, k => Assert.InRange(k.Key, 0, 41));
            // The gradient sums differ only in summation order.
            float apart = (one.Optimizer.Parameters - two.Optimizer.Parameters).abs().max().item<float>();
            Assert.True(apart < 2e-4, $"parameters {apart} apart");
        }
    }
}
