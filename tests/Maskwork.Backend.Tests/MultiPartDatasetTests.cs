using System.Text.Json.Serialization;
using Maskwork.Abstractions;
using Maskwork.Backend.Data;
using Parquet;
using Parquet.Serialization;

namespace Maskwork.Backend.Tests;

/// <summary>Multi-part samples (an image, its silhouette and caption) as dataset rows, and files stored beside the shards.</summary>
public sealed class MultiPartDatasetTests : IDisposable
{
    readonly string dir = Path.Combine(Path.GetTempPath(), "maskwork-multipart-" + Guid.NewGuid().ToString("N"));

    public void Dispose() { if (Directory.Exists(dir)) Directory.Delete(dir, true); }

    static MultiPartSample Pair(int i)
    {
        var rgb = Enumerable.Range(0, 3 * 4 * 4).Select(j => (j * 7 + i) % 13 / 13f + 0.001f).ToArray(); // not 8-bit: stays float32
        var alpha = Enumerable.Range(0, 16).Select(j => (j + i) % 2 == 0 ? 1f : 0f).ToArray();        // 8-bit: stored as uint8
        var parts = new Dictionary<string, Sample>
        {
            ["image"] = new Sample(rgb, [3, 4, 4], i % 2, $"s{i}.png"),
            ["alpha"] = new Sample(alpha, [1, 4, 4], i % 2, $"s{i}.png"),
            ["text"] = new TextSample($"caption number {i}, with \"quotes\"", i % 2, $"s{i}.png"),
        };
        return new MultiPartSample(parts, "image", i % 2, $"s{i}.png") { Split = i < 4 ? "train" : "test" };
    }

    [Fact]
    public async Task Multi_part_rows_come_back_with_every_part_and_companion_files_are_listed_and_verified()
    {
        var samples = Enumerable.Range(0, 6).Select(Pair).ToList();
        DatasetManifest manifest;
        await using (var writer = new DatasetWriter(dir))
        {
            foreach (var s in samples) await writer.AddAsync(s, CancellationToken.None);
            writer.AddFile("vocab.json", "{\"v\":1}"u8.ToArray());
            manifest = await writer.CompleteAsync("test", "in", new Dictionary<string, string>(), [], CancellationToken.None);
        }
        Assert.Equal(DatasetManifest.MultiPartVersion, manifest.FormatVersion);
        Assert.Equal(["vocab.json"], manifest.Files.Select(f => f.File));
        Assert.Equal("{\"v\":1}", File.ReadAllText(Path.Combine(dir, "vocab.json")));
        Assert.True(ParquetDataset.Verify(dir).Ok);

        var issues = new DataIssueLog();
        var source = ParquetSource.Open(dir, "train", new ParquetSourceOptions(), issues);
        var read = source.Read([0, 1, 2, 3], 0).Cast<MultiPartSample>().ToList();
        Assert.Equal(0, issues.Count);
        for (int i = 0; i < 4; i++)
        {
            var (had, got) = (samples[i], read[i]);
            Assert.Equal("image", got.Primary);
            Assert.Equal(had.Parts["image"].Values, got.Parts["image"].Values);
            Assert.Equal(had.Values, got.Values);
            Assert.Equal(SampleDType.UInt8, got.Parts["alpha"].DType);
            Assert.Equal(had.Parts["alpha"].Values, got.Parts["alpha"].Values);
            Assert.Equal(((TextSample)had.Parts["text"]).Text, Assert.IsType<TextSample>(got.Parts["text"]).Text);
            Assert.Equal((had.Label, had.Source, "train"), (got.Label, got.Source, got.Split));
            Assert.Equal(i, got.Part("text").Index);
        }

        // A changed companion file fails verification, naming it; so does a missing one.
        File.WriteAllText(Path.Combine(dir, "vocab.json"), "{\"v\":2}");
        Assert.Contains(ParquetDataset.Verify(dir).Problems, p => p.StartsWith("vocab.json: does not match"));
        File.Delete(Path.Combine(dir, "vocab.json"));
        Assert.Contains(ParquetDataset.Verify(dir).Problems, p => p.StartsWith("vocab.json: listed in the manifest but missing"));
        // Ingesting again into the folder replaces the dataset and its companions (they are the dataset's, not foreign files).
        File.WriteAllText(Path.Combine(dir, "vocab.json"), "{}");
        await using (var again = new DatasetWriter(dir))
        {
            await again.AddAsync(new Sample([1f, 0f], [2], null, "plain"), CancellationToken.None);
            manifest = await again.CompleteAsync("test", "in", new Dictionary<string, string>(), [], CancellationToken.None);
        }
        Assert.False(File.Exists(Path.Combine(dir, "vocab.json")));
        Assert.Equal(DatasetManifest.CurrentVersion, manifest.FormatVersion); // plain rows stay version 1
        Assert.Throws<ArgumentException>(() => new DatasetWriter(dir).AddFile("../x.json", []));
    }

    [Fact]
    public async Task A_row_whose_parts_do_not_fit_its_values_is_named_and_skipped()
    {
        await using (var writer = new DatasetWriter(dir))
        {
            foreach (var s in Enumerable.Range(0, 3).Select(Pair)) await writer.AddAsync(s with { Split = null }, CancellationToken.None);
            await writer.CompleteAsync("test", "in", new Dictionary<string, string>(), [], CancellationToken.None);
        }
        // Rewrite the shard with one row's parts claiming a larger image (values and their SHA-256 untouched).
        string shard = Path.Combine(dir, "part-00000.parquet");
        DatasetRow[] rows;
        using (var fs = File.OpenRead(shard)) rows = [.. (await ParquetSerializer.DeserializeAsync<DatasetRow>(fs)).Data];
        rows[1].Parts = rows[1].Parts!.Replace("[3,4,4]", "[3,8,8]");
        using (var fs = File.Create(shard)) await ParquetSerializer.SerializeAsync(rows, fs);
        var m = DatasetManifest.Load(dir);
        (m with { Shards = [m.Shards[0] with { Bytes = new FileInfo(shard).Length }] }).Save(dir);
        var issues = new DataIssueLog();
        var source = ParquetSource.Open(dir, null, new ParquetSourceOptions(), issues);
        Assert.Empty(source.Read([0, 1, 2], 0));
        Assert.Contains(issues.Items, i => i.File == shard && i.Reason.Contains("whose parts need"));
    }

    /// <summary>The row as Maskwork 1.1 wrote it, without the parts column.</summary>
    sealed class OldRow
    {
        [JsonPropertyName("values")] public byte[] Values { get; set; } = [];
        [JsonPropertyName("dtype")] public string DType { get; set; } = "float32";
        [JsonPropertyName("normalized")] public bool Normalized { get; set; }
        [JsonPropertyName("shape")] public int[] Shape { get; set; } = [];
        [JsonPropertyName("label")] public int? Label { get; set; }
        [JsonPropertyName("split")] public string? Split { get; set; }
        [JsonPropertyName("source")] public string Source { get; set; } = "";
    }

    [Fact]
    public async Task Shards_written_before_the_parts_column_still_read()
    {
        Directory.CreateDirectory(dir);
        string file = Path.Combine(dir, "old.parquet");
        using (var fs = File.Create(file))
            await ParquetSerializer.SerializeAsync(new[] { new OldRow { Values = [1, 2, 3, 4], DType = "uint8", Shape = [4], Label = 2, Source = "a" } }, fs);
        using var read = File.OpenRead(file);
        var row = Assert.Single((await ParquetSerializer.DeserializeAsync<DatasetRow>(read)).Data);
        Assert.Null(row.Parts);
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, row.Values);
        Assert.Equal(2, row.Label);
    }
}
