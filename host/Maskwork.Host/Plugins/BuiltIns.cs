using Maskwork.Abstractions;
using Maskwork.Backend.Data;

namespace Maskwork.Host.Plugins;

/// <summary>Components the host provides itself: the modality-agnostic Parquet dataset reader.</summary>
public static class BuiltIns
{
    public static void Register(ComponentRegistry registry)
    {
        var staging = registry.For("maskwork");
        staging.AddReader(new ParquetReader());
        staging.Commit();
    }

    sealed class ParquetReader : IDatasetReader
    {
        public string Name => "parquet";
        public string Description => "a dataset folder written by `maskwork ingest` (dataset.json + part-*.parquet), or older part-*.parquet files";

        public IAsyncEnumerable<Sample> ReadAsync(DataSpec spec, IDataIssues issues, CancellationToken ct) =>
            ParquetDataset.IsDataset(spec.Path) ? ParquetDataset.ReadAllAsync(spec, issues, ct) : SampleParquet.ReadAsync(spec, issues, ct);
    }
}
