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
            ParquetDataset.IsDataset(spec.Path) ? ReadDatasetAsync(spec, issues, ct) : SampleParquet.ReadAsync(spec, issues, ct);

        /// <summary>A dataset folder's rows in index order, a row group at a time.</summary>
        static async IAsyncEnumerable<Sample> ReadDatasetAsync(DataSpec spec, IDataIssues issues, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
        {
            var log = issues as DataIssueLog ?? new DataIssueLog();
            var source = ParquetSource.Open(spec.Path, spec.Split, ParquetSourceOptions.From(spec.Options), log);
            long at = 0;
            foreach (int rows in source.GroupRows)
            {
                ct.ThrowIfCancellationRequested();
                var indices = new long[rows];
                for (int i = 0; i < rows; i++) indices[i] = at + i;
                at += rows;
                foreach (var s in await Task.Run(() => source.Read(indices, 0), ct)) yield return s;
            }
            if (!ReferenceEquals(log, issues)) foreach (var (file, reason) in log.Items) issues.Skip(file, reason);
        }
    }
}
