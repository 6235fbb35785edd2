using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;

namespace Maskwork.Plugins.Voxel.Formats;

/// <summary>The element types the voxel readers take from NumPy files.</summary>
public enum NpyType { UInt8, Bool, Float16, Float32 }

/// <summary>
/// One NumPy array: its element type, shape and raw element bytes in C order, little-endian (a Fortran-order or
/// big-endian file is converted when read).
/// </summary>
public sealed record NpyArray(NpyType Type, int[] Shape, byte[] Data)
{
    public int ElementSize => Type is NpyType.Float16 ? 2 : Type is NpyType.Float32 ? 4 : 1;
    public long Count => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// The NumPy <c>.npy</c> format, versions 1.0, 2.0 and 3.0: the magic <c>\x93NUMPY</c>, a version, a header length
/// (2 bytes in v1, 4 in v2/v3), a Python-literal header dict with <c>descr</c>, <c>fortran_order</c> and <c>shape</c>,
/// then the data. Element types <c>u1</c>, <c>b1</c>, <c>f2</c>, <c>f4</c> (either byte order); C or Fortran order.
/// A <c>.npz</c> is a zip of <c>.npy</c> members (stored or deflated, as <c>np.savez</c>/<c>savez_compressed</c> write).
/// </summary>
public static class NpyFormat
{
    static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];
    const long MaxElements = 1L << 31;

    public static NpyArray Read(string file, byte[] bytes)
    {
        if (bytes.Length < 10 || !bytes.AsSpan(0, 6).SequenceEqual(Magic)) throw new VoxelFormatException(file, "not a .npy file (no \\x93NUMPY magic)");
        int major = bytes[6];
        if (major is < 1 or > 3) throw new VoxelFormatException(file, $".npy format version {major}.{bytes[7]} is not supported (1.0, 2.0, 3.0)");
        long headerLength = major == 1 ? BitConverter.ToUInt16(bytes, 8) : bytes.Length >= 12 ? BitConverter.ToUInt32(bytes, 8) : -1;
        int start = major == 1 ? 10 : 12;
        if (headerLength < 0 || start + headerLength > bytes.Length) throw new VoxelFormatException(file, "the header is truncated");
        var header = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(bytes, start, (int)headerLength);
        var descr = Field(file, header, "descr", @"'([^']*)'");
        var fortran = Field(file, header, "fortran_order", @"(True|False)") == "True";
        var shapeText = Field(file, header, "shape", @"\(([^)]*)\)");
        var shape = shapeText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= 0 ? v
                : throw new VoxelFormatException(file, $"bad shape ({shapeText})")).ToArray();
        var (type, size, bigEndian) = descr switch
        {
            "|u1" or "<u1" or ">u1" or "u1" => (NpyType.UInt8, 1, false),
            "|b1" or "<b1" or ">b1" or "b1" or "?" or "|?" => (NpyType.Bool, 1, false),
            "<f2" => (NpyType.Float16, 2, false), ">f2" => (NpyType.Float16, 2, true),
            "<f4" => (NpyType.Float32, 4, false), ">f4" => (NpyType.Float32, 4, true),
            _ => throw new VoxelFormatException(file, $"element type '{descr}' is not supported (uint8, bool, float16, float32)"),
        };
        long count = shape.Aggregate(1L, (a, b) => a * b);
        if (count > MaxElements) throw new VoxelFormatException(file, $"{count} elements is too many");
        long offset = start + headerLength, need = count * size;
        if (bytes.Length - offset < need) throw new VoxelFormatException(file, $"the data holds {bytes.Length - offset} bytes, shape ({shapeText}) of {descr} needs {need} (truncated)");
        if (bytes.Length - offset > need) throw new VoxelFormatException(file, $"{bytes.Length - offset - need} bytes after the array's data");
        var data = bytes.AsSpan((int)offset, (int)need).ToArray();
        if (bigEndian)
            for (long i = 0; i < need; i += size) Array.Reverse(data, (int)i, size);
        if (type == NpyType.Bool)
            foreach (byte b in data) if (b > 1) throw new VoxelFormatException(file, $"bool value {b} (must be 0 or 1)");
        if (fortran && shape.Length > 1) data = FortranToC(data, shape, size);
        return new NpyArray(type, shape, data);
    }

    /// <summary>The elements as float32 (C order).</summary>
    public static float[] ToFloat(NpyArray array)
    {
        var data = array.Data.AsSpan();
        switch (array.Type)
        {
            case NpyType.Float32: return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(data).ToArray();
            case NpyType.Float16:
            {
                var half = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, Half>(data);
                var result = new float[half.Length];
                for (int i = 0; i < half.Length; i++) result[i] = (float)half[i];
                return result;
            }
            default:
            {
                var result = new float[data.Length];
                for (int i = 0; i < data.Length; i++) result[i] = data[i];
                return result;
            }
        }
    }

    /// <summary>The members of a <c>.npz</c> archive, by name without the <c>.npy</c> suffix, in archive order.</summary>
    public static List<(string Name, NpyArray Array)> ReadNpz(string file, byte[] bytes)
    {
        var result = new List<(string, NpyArray)>();
        try
        {
            using var zip = new ZipArchive(new MemoryStream(bytes), ZipArchiveMode.Read);
            foreach (var entry in zip.Entries)
            {
                if (!entry.FullName.EndsWith(".npy", StringComparison.Ordinal)) continue;
                if (entry.Length > 1L << 31) throw new VoxelFormatException(file, $"member {entry.FullName} is too large");
                using var stream = entry.Open();
                var member = new MemoryStream();
                stream.CopyTo(member);
                result.Add((entry.FullName[..^4], Read($"{file}#{entry.FullName}", member.ToArray())));
            }
        }
        catch (InvalidDataException e) { throw new VoxelFormatException(file, $"not a readable .npz (zip) archive: {e.Message}", e); }
        if (result.Count == 0) throw new VoxelFormatException(file, "the .npz archive holds no .npy member");
        return result;
    }

    static string Field(string file, string header, string key, string value)
    {
        var m = Regex.Match(header, $"'{key}'\\s*:\\s*{value}");
        return m.Success ? m.Groups[1].Value : throw new VoxelFormatException(file, $"the header has no valid '{key}' ({header.Trim()})");
    }

    /// <summary>Fortran (first index fastest) → C order: the Fortran data read as C order is the transposed array.</summary>
    static byte[] FortranToC(byte[] data, int[] shape, int size)
    {
        var reversed = shape.Reverse().Select(s => (long)s).ToArray();
        using var scope = TorchSharp.torch.NewDisposeScope();
        var t = TorchSharp.torch.tensor(data).view([.. reversed, size]);
        var order = Enumerable.Range(0, shape.Length).Reverse().Select(i => (long)i).Append(shape.Length).ToArray();
        return t.permute(order).contiguous().data<byte>().ToArray();
    }
}
