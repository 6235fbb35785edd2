using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Maskwork.Formats.Nifti;

namespace Maskwork.Formats.Nifti.Tests;

/// <summary>
/// Writes NIfTI-1/NIfTI-2/Analyze files field by field from the nifti1.h / nifti2.h layouts, so tests can make every
/// datatype, both byte orders, pairs, extensions and deliberately broken headers (the reader under test is not used).
/// </summary>
public sealed record NiftiBuilder
{
    public int Version { get; init; } = 1;              // 1, 2, or 0 for Analyze 7.5 (no magic)
    public bool Little { get; init; } = true;
    public bool Pair { get; init; }
    public long[] Dims { get; init; } = [4, 3, 2];
    public NiftiDataType DataType { get; init; } = NiftiDataType.Int16;
    public int? BitPix { get; init; }
    public double[] PixDim { get; init; } = [1, 2, 3, 4, 1, 1, 1, 1];
    public double SclSlope { get; init; } = 1;
    public double SclInter { get; init; }
    public int QformCode { get; init; }
    public int SformCode { get; init; }
    public double[] Quatern { get; init; } = [0, 0, 0, 0, 0, 0];
    public double[] Srow { get; init; } = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0];
    public int XyztUnits { get; init; } = 2 | 8;
    public long? VoxOffset { get; init; }
    public (int Code, string Text)[] Extensions { get; init; } = [];
    public string? Magic { get; init; }
    public double[]? Values { get; init; }

    public int HeaderSize => Version == 2 ? 540 : 348;
    public long Count => Dims.Aggregate(1L, (a, b) => a * b);
    public double[] Data => Values ?? Enumerable.Range(0, (int)Count).Select(i => (double)((i * 7) % 23)).ToArray();

    byte[] ExtensionBytes()
    {
        var ms = new MemoryStream();
        ms.Write([(byte)(Extensions.Length > 0 ? 1 : 0), 0, 0, 0]);
        foreach (var (code, text) in Extensions)
        {
            var payload = Encoding.ASCII.GetBytes(text);
            int esize = (8 + payload.Length + 15) / 16 * 16;
            var e = new byte[esize];
            I32(e, 0, esize); I32(e, 4, code);
            payload.CopyTo(e, 8);
            ms.Write(e);
        }
        return ms.ToArray();
    }

    public byte[] Header()
    {
        var h = new byte[HeaderSize];
        var ext = ExtensionBytes();
        long offset = VoxOffset ?? (Pair ? 0 : HeaderSize + ext.Length);
        int bits = BitPix ?? NiftiDataTypes.Bits(DataType);
        if (Version == 2)
        {
            I32(h, 0, 540);
            Encoding.ASCII.GetBytes(Magic ?? (Pair ? "ni2" : "n+2")).CopyTo(h, 4);
            h[8] = 0x0d; h[9] = 0x0a; h[10] = 0x1a; h[11] = 0x0a;
            I16(h, 12, (short)DataType); I16(h, 14, (short)bits);
            I64(h, 16, Dims.Length);
            for (int i = 0; i < Dims.Length; i++) I64(h, 24 + 8 * i, Dims[i]);
            for (int i = 0; i < 8; i++) F64(h, 104 + 8 * i, PixDim[i]);
            I64(h, 168, offset); F64(h, 176, SclSlope); F64(h, 184, SclInter);
            I32(h, 344, QformCode); I32(h, 348, SformCode);
            for (int i = 0; i < 6; i++) F64(h, 352 + 8 * i, Quatern[i]);
            for (int i = 0; i < 12; i++) F64(h, 400 + 8 * i, Srow[i]);
            I32(h, 500, XyztUnits);
        }
        else
        {
            I32(h, 0, 348);
            h[38] = (byte)'r';
            I16(h, 40, (short)Dims.Length);
            for (int i = 0; i < Dims.Length; i++) I16(h, 42 + 2 * i, (short)Dims[i]);
            I16(h, 70, (short)DataType); I16(h, 72, (short)bits);
            for (int i = 0; i < 8; i++) F32(h, 76 + 4 * i, (float)PixDim[i]);
            F32(h, 108, offset);
            if (Version == 1)
            {
                F32(h, 112, (float)SclSlope); F32(h, 116, (float)SclInter);
                h[123] = (byte)XyztUnits;
                I16(h, 252, (short)QformCode); I16(h, 254, (short)SformCode);
                for (int i = 0; i < 6; i++) F32(h, 256 + 4 * i, (float)Quatern[i]);
                for (int i = 0; i < 12; i++) F32(h, 280 + 4 * i, (float)Srow[i]);
                Encoding.ASCII.GetBytes(Magic ?? (Pair ? "ni1" : "n+1")).CopyTo(h, 344);
            }
            else if (Magic is not null) Encoding.ASCII.GetBytes(Magic).CopyTo(h, 344);
        }
        return Version == 0 ? h : [.. h, .. ext];
    }

    public byte[] Voxels()
    {
        int width = NiftiDataTypes.Bits(DataType) / 8;
        var data = Data;
        var b = new byte[data.Length * width];
        for (int i = 0; i < data.Length; i++)
        {
            var s = b.AsSpan(i * width);
            double v = data[i];
            switch (DataType)
            {
                case NiftiDataType.UInt8: s[0] = (byte)v; break;
                case NiftiDataType.Int8: s[0] = (byte)(sbyte)v; break;
                case NiftiDataType.Int16: W(s, (short)v); break;
                case NiftiDataType.UInt16: W(s, (ushort)v); break;
                case NiftiDataType.Int32: W(s, (int)v); break;
                case NiftiDataType.UInt32: W(s, (uint)v); break;
                case NiftiDataType.Int64: W(s, (long)v); break;
                case NiftiDataType.UInt64: W(s, (ulong)v); break;
                case NiftiDataType.Float32: W(s, (float)v); break;
                case NiftiDataType.Float64: W(s, v); break;
                default: break; // complex/RGB: zeros are enough, the header is refused
            }
        }
        return b;
    }

    /// <summary>The single file's bytes: header, extensions, padding to vox_offset, voxels.</summary>
    public byte[] Single()
    {
        var head = Header();
        long offset = VoxOffset ?? head.Length;
        var file = new byte[Math.Max(head.Length, offset) + Voxels().Length];
        head.CopyTo(file, 0);
        Voxels().CopyTo(file, Math.Max(head.Length, offset));
        return file;
    }

    /// <summary>Writes <paramref name="path"/> (.nii) or the pair path.hdr + path.img; gzip on request; returns the path to open.</summary>
    public string Write(string path, bool gzip = false)
    {
        if (!Pair && Version != 0) { File.WriteAllBytes(path, gzip ? Gzip(Single()) : Single()); return path; }
        string stem = Path.ChangeExtension(path, null);
        File.WriteAllBytes(stem + ".hdr" + (gzip ? ".gz" : ""), gzip ? Gzip(Header()) : Header());
        var img = new byte[(VoxOffset ?? 0) + Voxels().Length];
        Voxels().CopyTo(img, VoxOffset ?? 0);
        File.WriteAllBytes(stem + ".img" + (gzip ? ".gz" : ""), gzip ? Gzip(img) : img);
        return stem + ".hdr" + (gzip ? ".gz" : "");
    }

    public static byte[] Gzip(byte[] bytes)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(bytes);
        return ms.ToArray();
    }

    void W(Span<byte> s, short v) { if (Little) BinaryPrimitives.WriteInt16LittleEndian(s, v); else BinaryPrimitives.WriteInt16BigEndian(s, v); }
    void W(Span<byte> s, ushort v) { if (Little) BinaryPrimitives.WriteUInt16LittleEndian(s, v); else BinaryPrimitives.WriteUInt16BigEndian(s, v); }
    void W(Span<byte> s, int v) { if (Little) BinaryPrimitives.WriteInt32LittleEndian(s, v); else BinaryPrimitives.WriteInt32BigEndian(s, v); }
    void W(Span<byte> s, uint v) { if (Little) BinaryPrimitives.WriteUInt32LittleEndian(s, v); else BinaryPrimitives.WriteUInt32BigEndian(s, v); }
    void W(Span<byte> s, long v) { if (Little) BinaryPrimitives.WriteInt64LittleEndian(s, v); else BinaryPrimitives.WriteInt64BigEndian(s, v); }
    void W(Span<byte> s, ulong v) { if (Little) BinaryPrimitives.WriteUInt64LittleEndian(s, v); else BinaryPrimitives.WriteUInt64BigEndian(s, v); }
    void W(Span<byte> s, float v) { if (Little) BinaryPrimitives.WriteSingleLittleEndian(s, v); else BinaryPrimitives.WriteSingleBigEndian(s, v); }
    void W(Span<byte> s, double v) { if (Little) BinaryPrimitives.WriteDoubleLittleEndian(s, v); else BinaryPrimitives.WriteDoubleBigEndian(s, v); }
    void I16(byte[] b, int o, short v) => W(b.AsSpan(o), v);
    void I32(byte[] b, int o, int v) => W(b.AsSpan(o), v);
    void I64(byte[] b, int o, long v) => W(b.AsSpan(o), v);
    void F32(byte[] b, int o, float v) => W(b.AsSpan(o), v);
    void F64(byte[] b, int o, double v) => W(b.AsSpan(o), v);
}
