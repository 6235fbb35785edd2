using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using static TorchSharp.torch;

namespace Maskwork.Backend.Training;

/// <summary>Scalar state that travels with the tensors of a checkpoint.</summary>
public sealed record CheckpointState
{
    public long Step { get; init; }
    public long Seed { get; init; }
    public long OptimizerSteps { get; init; }
    public long SamplesSeen { get; init; }
    public long NonFiniteSteps { get; init; }
    public long SkippedSamples { get; init; }
    public string Recipe { get; init; } = "";
    public string Precision { get; init; } = "fp32";

    /// <summary>Slices per micro-batch the run trains with (<see cref="Trainer.Workers"/>); 0 in checkpoints written before it was recorded.</summary>
    public int Workers { get; init; }

    /// <summary>Ranks that trained the run (<see cref="Trainer.WorldSize"/>); 0 in checkpoints written before it was recorded (one process).</summary>
    public int WorldSize { get; init; }
}

/// <summary>A checkpoint that failed validation: wrong magic, checksum, names or shapes.</summary>
public sealed class CheckpointException(string path, string reason) : Exception($"checkpoint {path}: {reason}")
{
    public string Path { get; } = path;
}

/// <summary>
/// Checkpoint file: magic, a JSON header (state + tensor table), raw little-endian tensor bytes,
/// then a SHA-256 of everything before it. Written to a temp file, fsynced, then renamed, so a
/// kill at any moment leaves the previous file intact. Every field is validated before use.
/// </summary>
public static class Checkpoint
{
    static readonly byte[] Magic = "MWCKPT01"u8.ToArray();

    sealed record Entry(string Name, string Dtype, long[] Shape, long Offset, long Length);
    sealed record Header(CheckpointState State, List<Entry> Tensors);

    public static void Save(string path, CheckpointState state, IEnumerable<(string Name, Tensor Value)> tensors)
    {
        var entries = new List<Entry>();
        var blobs = new List<byte[]>();
        long offset = 0;
        foreach (var (name, value) in tensors)
        {
            using var c = value.detach().cpu().contiguous();
            byte[] bytes = c.bytes.ToArray();
            entries.Add(new Entry(name, c.dtype.ToString(), c.shape, offset, bytes.Length));
            blobs.Add(bytes);
            offset += bytes.Length;
        }
        byte[] header = JsonSerializer.SerializeToUtf8Bytes(new Header(state, entries));

        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        string tmp = path + ".tmp";
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
        using (var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
        {
            void Write(ReadOnlySpan<byte> b) { fs.Write(b); sha.AppendData(b); }
            Write(Magic);
            Write(BitConverter.GetBytes(header.Length));
            Write(header);
            foreach (var b in blobs) Write(b);
            fs.Write(sha.GetHashAndReset());
            fs.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Reads and validates a checkpoint. Tensors come back on the CPU.</summary>
    public static (CheckpointState State, Dictionary<string, Tensor> Tensors) Load(string path)
    {
        if (!File.Exists(path)) throw new CheckpointException(path, "file not found");
        byte[] all = File.ReadAllBytes(path);
        if (all.Length < Magic.Length + 4 + 32 || !all.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new CheckpointException(path, "not a Maskwork checkpoint (bad magic or too short)");
        var body = all.AsSpan(0, all.Length - 32);
        if (!SHA256.HashData(body).AsSpan().SequenceEqual(all.AsSpan(all.Length - 32)))
            throw new CheckpointException(path, "checksum mismatch: the file is truncated or corrupted");
        int headerLength = BitConverter.ToInt32(all, Magic.Length);
        int dataStart = Magic.Length + 4 + headerLength;
        if (headerLength <= 0 || dataStart > body.Length) throw new CheckpointException(path, "header length out of range");
        var header = JsonSerializer.Deserialize<Header>(all.AsSpan(Magic.Length + 4, headerLength))
                     ?? throw new CheckpointException(path, "empty header");
        var tensors = new Dictionary<string, Tensor>();
        foreach (var e in header.Tensors)
        {
            if (!Enum.TryParse<ScalarType>(e.Dtype, out var dtype)) throw new CheckpointException(path, $"{e.Name}: unknown dtype {e.Dtype}");
            if (e.Offset < 0 || e.Length < 0 || dataStart + e.Offset + e.Length > body.Length)
                throw new CheckpointException(path, $"{e.Name}: data out of range");
            var t = empty(e.Shape, dtype);
            if (t.ElementSize * t.numel() != e.Length) throw new CheckpointException(path, $"{e.Name}: {e.Length} bytes do not fit shape [{string.Join(',', e.Shape)}]");
            t.bytes = all.AsSpan((int)(dataStart + e.Offset), (int)e.Length).ToArray();
            tensors[e.Name] = t;
        }
        return (header.State, tensors);
    }

    /// <summary>Copies checkpoint tensors into live tensors of the same names and shapes; refuses any mismatch.</summary>
    public static void Restore(string path, Dictionary<string, Tensor> saved, IEnumerable<(string Name, Tensor Target)> targets)
    {
        using var _ = no_grad();
        var missing = new List<string>();
        foreach (var (name, target) in targets)
        {
            if (!saved.TryGetValue(name, out var src)) { missing.Add(name); continue; }
            if (!src.shape.SequenceEqual(target.shape))
                throw new CheckpointException(path, $"{name}: shape [{string.Join(',', src.shape)}] does not match the model's [{string.Join(',', target.shape)}] (different recipe options?)");
            target.copy_(src);
        }
        if (missing.Count > 0) throw new CheckpointException(path, $"missing tensors: {string.Join(", ", missing.Take(5))}{(missing.Count > 5 ? "…" : "")}");
    }

    public static string Describe(CheckpointState s) => Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(s));
}
