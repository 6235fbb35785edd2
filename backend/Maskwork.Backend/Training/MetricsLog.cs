using Parquet.Serialization;

namespace Maskwork.Backend.Training;

/// <summary>One logged step in metrics.parquet.</summary>
public sealed class MetricRow
{
    public long Step { get; set; }
    public double Loss { get; set; }
    public double Lr { get; set; }
    public double SamplesPerS { get; set; }
    public double GradNorm { get; set; }
    public long NonFiniteSteps { get; set; }
    public long SkippedSamples { get; set; }
    public double ElapsedS { get; set; }
}

/// <summary>The rows of metrics.parquet; rewritten atomically with each checkpoint so it never runs ahead of one after a resume.</summary>
public sealed class MetricsLog(string path)
{
    public List<MetricRow> Rows { get; } = [];

    public static async Task<MetricsLog> OpenAsync(string path, long upToStep)
    {
        var log = new MetricsLog(path);
        if (File.Exists(path))
        {
            await using var fs = File.OpenRead(path);
            log.Rows.AddRange((await ParquetSerializer.DeserializeAsync<MetricRow>(fs)).Data.Where(r => r.Step <= upToStep));
        }
        return log;
    }

    public void Add(MetricRow row) => Rows.Add(row);

    public async Task SaveAsync()
    {
        string tmp = path + ".tmp";
        await using (var fs = File.Create(tmp)) await ParquetSerializer.SerializeAsync(Rows, fs);
        File.Move(tmp, path, true);
    }
}
