using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;

namespace Maskwork.Formats.Nifti;

/// <summary>What the reader accepts beyond strict NIfTI.</summary>
/// <param name="AllowAnalyze">Read Analyze 7.5 <c>.hdr/.img</c> pairs (no NIfTI magic): no scaling, the base affine.</param>
public sealed record NiftiReadOptions(bool AllowAnalyze = false)
{
    public static readonly NiftiReadOptions Default = new();
}

/// <summary>
/// A decoded volume: the header and every voxel as float32 after <c>scl_slope</c>/<c>scl_inter</c>, in file order
/// (x fastest, then y, z, t, …). 64-bit integers and float64 are rounded to the nearest float32.
/// </summary>
public sealed record NiftiImage(string File, NiftiHeader Header, float[] Data)
{
    /// <summary>The voxels of 3-D volume <paramref name="index"/> (time point or component), x fastest.</summary>
    public ReadOnlyMemory<float> Volume(int index)
    {
        long n = Header.VolumeVoxels;
        if (index < 0 || index >= Header.VolumeCount) throw new ArgumentOutOfRangeException(nameof(index), $"{File} has {Header.VolumeCount} volumes");
        return new ReadOnlyMemory<float>(Data, (int)(index * n), (int)n);
    }

    /// <summary>Voxel (i, j, k) of volume <paramref name="t"/>.</summary>
    public float this[int i, int j, int k, int t = 0] =>
        Data[i + Header.Dim(0) * (j + Header.Dim(1) * (k + Header.Dim(2) * (long)t))];
}

/// <summary>
/// A strict NIfTI-1 / NIfTI-2 reader (as nibabel): the byte order from <c>sizeof_hdr</c> read both ways, gzip by its
/// magic bytes (not the name), <c>.nii</c> single files and <c>.hdr/.img</c> pairs, <c>dim</c>, <c>datatype</c>/<c>bitpix</c>,
/// <c>vox_offset</c>, <c>qfac</c>, quaternion and scaling checked, extensions walked. Every refusal is a
/// <see cref="NiftiFormatException"/> naming the file and the field.
/// </summary>
public static class NiftiFile
{
    const int Nifti1Size = 348, Nifti2Size = 540;

    /// <summary>True when the name looks like a NIfTI/Analyze file this reader opens (<c>.nii</c>, <c>.nii.gz</c>, <c>.hdr</c>, <c>.hdr.gz</c>).</summary>
    public static bool IsHeaderName(string path)
    {
        string n = path.ToLowerInvariant();
        return n.EndsWith(".nii") || n.EndsWith(".nii.gz") || n.EndsWith(".hdr") || n.EndsWith(".hdr.gz");
    }

    /// <summary>The header of a file (for <c>.img</c> the paired <c>.hdr</c>), without reading the voxels.</summary>
    public static NiftiHeader ReadHeader(string path, NiftiReadOptions? options = null)
    {
        string headerPath = HeaderPathOf(path);
        using var stream = Open(headerPath);
        return ParseHeader(headerPath, stream, options ?? NiftiReadOptions.Default).Header;
    }

    /// <summary>Reads a whole volume.</summary>
    public static NiftiImage Read(string path, NiftiReadOptions? options = null)
    {
        options ??= NiftiReadOptions.Default;
        string headerPath = HeaderPathOf(path);
        using var stream = Open(headerPath);
        var (header, read) = ParseHeader(headerPath, stream, options);
        if (header.SingleFile) return new NiftiImage(headerPath, header, ReadVoxels(headerPath, stream, read, header));
        string imagePath = ImagePathOf(headerPath);
        using var image = Open(imagePath);
        return new NiftiImage(headerPath, header, ReadVoxels(imagePath, image, [], header));
    }

    /// <summary>Reads a volume from bytes (gzipped or not) that came from <paramref name="file"/>; single files only.</summary>
    public static NiftiImage Read(string file, byte[] bytes, NiftiReadOptions? options = null)
    {
        using var stream = Decompressing(file, new MemoryStream(bytes, writable: false));
        var (header, read) = ParseHeader(file, stream, options ?? NiftiReadOptions.Default);
        if (!header.SingleFile) throw new NiftiFormatException(file, "magic", "a .hdr/.img pair header: read it from its path so the .img can be found");
        return new NiftiImage(file, header, ReadVoxels(file, stream, read, header));
    }

    /// <summary>For <c>x.img[.gz]</c> the header <c>x.hdr[.gz]</c> next to it; otherwise the path itself.</summary>
    public static string HeaderPathOf(string path)
    {
        string lower = path.ToLowerInvariant();
        foreach (var (img, hdr) in new[] { (".img", ".hdr"), (".img.gz", ".hdr.gz") })
            if (lower.EndsWith(img))
            {
                string stem = path[..^img.Length];
                foreach (var h in new[] { hdr, hdr.ToUpperInvariant(), ".hdr", ".hdr.gz" })
                    if (File.Exists(stem + h)) return stem + h;
                throw new NiftiFormatException(path, "header", $"no {Path.GetFileName(stem)}.hdr next to this .img");
            }
        return path;
    }

    /// <summary>The <c>.img</c> (or <c>.img.gz</c>) that pairs with a <c>.hdr</c>.</summary>
    public static string ImagePathOf(string headerPath)
    {
        string lower = headerPath.ToLowerInvariant();
        string stem = lower.EndsWith(".hdr.gz") ? headerPath[..^7] : lower.EndsWith(".hdr") ? headerPath[..^4] : headerPath;
        foreach (var ext in new[] { ".img", ".IMG", ".img.gz", ".IMG.GZ" })
            if (File.Exists(stem + ext)) return stem + ext;
        throw new NiftiFormatException(headerPath, "magic", $"the header says the voxels are in a separate file, but there is no {Path.GetFileName(stem)}.img next to it");
    }

    static Stream Open(string path)
    {
        Stream s;
        try { s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new NiftiFormatException(path, "file", $"cannot open: {e.Message}", e); }
        return Decompressing(path, s);
    }

    /// <summary>Wraps <paramref name="s"/> in a gzip decoder when it starts with the gzip magic bytes 1f 8b.</summary>
    static Stream Decompressing(string file, Stream s)
    {
        Span<byte> magic = stackalloc byte[2];
        int n = s.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        s.Seek(0, SeekOrigin.Begin);
        return n == 2 && magic[0] == 0x1f && magic[1] == 0x8b ? new GZipStream(s, CompressionMode.Decompress) : s;
    }

    /// <summary>Reads up to <paramref name="buffer"/>'s length; the count read (less at the end of the file).</summary>
    static int Fill(string file, Stream s, Span<byte> buffer)
    {
        try { return s.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false); }
        catch (InvalidDataException e) { throw new NiftiFormatException(file, "gzip", $"corrupt gzip stream: {e.Message}", e); }
    }

    /// <summary>Parses and checks the header; returns it and every byte read so far (up to vox_offset at least, for a single file).</summary>
    static (NiftiHeader Header, byte[] Read) ParseHeader(string file, Stream stream, NiftiReadOptions options)
    {
        var head = new byte[Nifti2Size];
        int got = Fill(file, stream, head);
        if (got < Nifti1Size) throw new NiftiFormatException(file, "sizeof_hdr", $"the file has {got} bytes, fewer than a NIfTI-1 header (348)");
        int le = BinaryPrimitives.ReadInt32LittleEndian(head), be = BinaryPrimitives.ReadInt32BigEndian(head);
        bool little = le is Nifti1Size or Nifti2Size;
        int size = little ? le : be;
        if (!little && be is not (Nifti1Size or Nifti2Size))
            throw new NiftiFormatException(file, "sizeof_hdr", $"{le} (or {be} big-endian) is neither 348 (NIfTI-1/Analyze) nor 540 (NIfTI-2): not a NIfTI file");
        if (size == Nifti2Size && got < Nifti2Size) throw new NiftiFormatException(file, "sizeof_hdr", $"540 (NIfTI-2) but the file has only {got} bytes");
        var r = new Fields(head, little);
        var h = size == Nifti1Size ? Nifti1(file, r, options) : Nifti2(file, r);
        Check(file, h, size);

        // Extensions: a 4-byte extender after the header, then (esize, ecode, payload) records up to the data.
        var rest = head[..got];
        var extensions = new List<NiftiExtension>();
        if (h.Version != NiftiVersion.Analyze)
        {
            long end = h.SingleFile ? h.VoxOffset : long.MaxValue;
            rest = ReadUpTo(file, stream, head, got, h.SingleFile ? h.VoxOffset : 1 << 24);
            if (rest.Length >= size + 4 && rest[size] != 0)
            {
                long pos = size + 4;
                end = Math.Min(end, rest.Length);
                while (pos + 8 <= end)
                {
                    var er = new Fields(rest, little);
                    int esize = er.I32((int)pos), ecode = er.I32((int)pos + 4);
                    if (esize == 0 && ecode == 0) break; // zero padding up to vox_offset, not an extension
                    if (esize < 8 || pos + esize > end)
                        throw new NiftiFormatException(file, "extension", $"the extension at byte {pos} has esize {esize}, which {(esize < 8 ? "is below 8" : $"runs past {(h.SingleFile ? $"vox_offset {h.VoxOffset}" : "the end of the header file")}")}");
                    extensions.Add(new NiftiExtension(ecode, rest[(int)(pos + 8)..(int)(pos + esize)]));
                    pos += esize;
                }
            }
        }
        return (h with { Extensions = extensions }, rest);
    }

    /// <summary>The bytes of the stream from its start up to at least <paramref name="limit"/> (or its end), given the first <paramref name="got"/> already read; grows only as bytes arrive, so a huge vox_offset costs nothing.</summary>
    static byte[] ReadUpTo(string file, Stream stream, byte[] head, int got, long limit)
    {
        var all = new MemoryStream();
        all.Write(head, 0, got);
        var chunk = new byte[64 * 1024];
        while (all.Length < limit)
        {
            int n = Fill(file, stream, chunk.AsSpan(0, (int)Math.Min(chunk.Length, limit - all.Length)));
            if (n == 0) break;
            all.Write(chunk, 0, n);
        }
        return all.ToArray();
    }

    static NiftiHeader Nifti1(string file, Fields r, NiftiReadOptions options)
    {
        string magic = r.Ascii(344, 4);
        bool single = magic == "n+1", pair = magic == "ni1";
        bool analyze = !single && !pair;
        if (analyze && !options.AllowAnalyze)
            throw new NiftiFormatException(file, "magic", $"'{Printable(r, 344, 4)}' is not 'n+1' or 'ni1': an Analyze 7.5 header or a corrupt NIfTI-1 one (set data.allow_analyze=true to read it as Analyze)");
        int rank = r.I16(40);
        var dims = ReadDims(file, rank, i => r.I16(40 + 2 * i));
        var pixdim = Enumerable.Range(0, 8).Select(i => (double)r.F32(76 + 4 * i)).ToArray();
        double slope = analyze ? 1 : r.F32(112), inter = analyze ? 0 : r.F32(116);
        return new NiftiHeader
        {
            Version = analyze ? NiftiVersion.Analyze : NiftiVersion.Nifti1,
            SingleFile = single, LittleEndian = r.Little, Shape = dims,
            DataType = (NiftiDataType)r.I16(70), BitPix = r.I16(72), PixDim = pixdim,
            VoxOffset = Offset(file, r.F32(108)), Slope = slope, Intercept = inter,
            QformCode = analyze ? 0 : r.I16(252), SformCode = analyze ? 0 : r.I16(254),
            Quaternion = analyze ? new double[6] : Enumerable.Range(0, 6).Select(i => (double)r.F32(256 + 4 * i)).ToArray(),
            Srow = analyze ? new double[12] : Enumerable.Range(0, 12).Select(i => (double)r.F32(280 + 4 * i)).ToArray(),
            XyzUnitsCode = analyze ? 0 : r.U8(123) & 0x07, TimeUnitsCode = analyze ? 0 : r.U8(123) & 0x38,
            Description = r.Ascii(148, 80), IntentCode = analyze ? 0 : r.I16(68), Extensions = [],
        };
    }

    static NiftiHeader Nifti2(string file, Fields r)
    {
        string magic = r.Ascii(4, 4);
        bool single = magic == "n+2", pair = magic == "ni2";
        if (!single && !pair) throw new NiftiFormatException(file, "magic", $"'{Printable(r, 4, 4)}' is not 'n+2' or 'ni2' (sizeof_hdr says NIfTI-2)");
        // nibabel's EOL check: bytes 4–7 of the magic are \r\n\032\n (or all zero in old writers); anything else is a mangled transfer.
        var eol = r.Bytes(8, 4);
        if (!(eol.SequenceEqual(new byte[] { 0x0d, 0x0a, 0x1a, 0x0a }) || eol.All(b => b == 0)))
            throw new NiftiFormatException(file, "magic", "the end-of-line check bytes are neither \\r\\n\\032\\n nor zero: the file was altered in a text-mode transfer");
        long rank = r.I64(16);
        var dims = ReadDims(file, rank, i => r.I64(16 + 8 * i));
        long offset = r.I64(168);
        if (offset < 0) throw new NiftiFormatException(file, "vox_offset", $"{offset} is negative");
        return new NiftiHeader
        {
            Version = NiftiVersion.Nifti2, SingleFile = single, LittleEndian = r.Little, Shape = dims,
            DataType = (NiftiDataType)r.I16(12), BitPix = r.I16(14),
            PixDim = Enumerable.Range(0, 8).Select(i => r.F64(104 + 8 * i)).ToArray(),
            VoxOffset = offset, Slope = r.F64(176), Intercept = r.F64(184),
            QformCode = r.I32(344), SformCode = r.I32(348),
            Quaternion = Enumerable.Range(0, 6).Select(i => r.F64(352 + 8 * i)).ToArray(),
            Srow = Enumerable.Range(0, 12).Select(i => r.F64(400 + 8 * i)).ToArray(),
            XyzUnitsCode = r.I32(500) & 0x07, TimeUnitsCode = r.I32(500) & 0x38,
            Description = r.Ascii(240, 80), IntentCode = r.I32(504), Extensions = [],
        };
    }

    static long[] ReadDims(string file, long rank, Func<int, long> dim)
    {
        if (rank is < 1 or > 7) throw new NiftiFormatException(file, "dim[0]", $"{rank} is not a number of dimensions (1–7)");
        var dims = new long[rank];
        for (int i = 1; i <= rank; i++)
        {
            dims[i - 1] = dim(i);
            if (dims[i - 1] < 1) throw new NiftiFormatException(file, $"dim[{i}]", $"{dims[i - 1]}: every size up to dim[0]={rank} must be at least 1");
        }
        return dims;
    }

    static long Offset(string file, float v)
    {
        if (!float.IsFinite(v) || v < 0 || v != MathF.Floor(v)) throw new NiftiFormatException(file, "vox_offset", $"{v} is not a whole, non-negative byte offset");
        return (long)v;
    }

    static void Check(string file, NiftiHeader h, int size)
    {
        if (!NiftiDataTypes.Readable(h.DataType))
        {
            string name = NiftiDataTypes.Name(h.DataType);
            string why = h.DataType switch
            {
                NiftiDataType.Complex64 or NiftiDataType.Complex128 or NiftiDataType.Complex256 => $"{name}: complex voxels are not read (store magnitude or real/imaginary volumes)",
                NiftiDataType.Rgb24 or NiftiDataType.Rgba32 => $"{name}: colour voxels are not read (store one channel per volume)",
                NiftiDataType.Float128 => "float128 is not read",
                NiftiDataType.Binary => "1-bit voxels are not read",
                _ => $"{(short)h.DataType} is not a NIfTI datatype code",
            };
            throw new NiftiFormatException(file, "datatype", why);
        }
        int bits = NiftiDataTypes.Bits(h.DataType);
        if (h.BitPix != bits) throw new NiftiFormatException(file, "bitpix", $"{h.BitPix} does not match datatype {h.DTypeName} ({bits} bits)");
        for (int i = 1; i <= Math.Min(3, h.Rank); i++)
            if (!double.IsFinite(h.PixDim[i])) throw new NiftiFormatException(file, $"pixdim[{i}]", $"{h.PixDim[i]} is not a finite voxel size");
        if (h.Version == NiftiVersion.Analyze) return;
        if (h.SingleFile && h.VoxOffset < size + 4)
            throw new NiftiFormatException(file, "vox_offset", $"{h.VoxOffset} is inside the header: a single-file NIfTI-{(int)h.Version} stores its voxels at {size + 4} or later");
        if (h.PixDim[0] is not (0 or 1 or -1)) throw new NiftiFormatException(file, "pixdim[0]", $"qfac {h.PixDim[0]} is not 1 or -1 (0 reads as 1)");
        if (h.QformCode is < 0 or > 5) throw new NiftiFormatException(file, "qform_code", $"{h.QformCode} is not a NIfTI xform code (0–5)");
        if (h.SformCode is < 0 or > 5) throw new NiftiFormatException(file, "sform_code", $"{h.SformCode} is not a NIfTI xform code (0–5)");
        if (h.QformCode != 0)
        {
            double b = h.Quaternion[0], c = h.Quaternion[1], d = h.Quaternion[2];
            // nibabel accepts 1 − (b²+c²+d²) down to −3 float32 epsilons (rounding of a unit quaternion); below, no rotation fits.
            if (1 - (b * b + c * c + d * d) < -3 * (h.Version == NiftiVersion.Nifti2 ? 2.220446049250313e-16 : 1.1920929e-7))
                throw new NiftiFormatException(file, "quatern_b/c/d", $"({b}, {c}, {d}) has length above 1: not a rotation");
            if (h.Quaternion.Any(q => !double.IsFinite(q))) throw new NiftiFormatException(file, "quatern/qoffset", "not finite");
        }
        if (h.SformCode != 0 && h.Srow.Any(v => !double.IsFinite(v))) throw new NiftiFormatException(file, "srow_x/y/z", "not finite");
        if (UsesSlope(h.Slope) && double.IsInfinity(h.Intercept)) throw new NiftiFormatException(file, "scl_inter", $"{h.Intercept} is not a finite intercept");
    }

    static bool UsesSlope(double slope) => slope != 0 && double.IsFinite(slope);

    static float[] ReadVoxels(string file, Stream stream, byte[] already, NiftiHeader h)
    {
        long count = h.VoxelCount;
        int width = h.BitPix / 8;
        if (count > Array.MaxLength || count * width > Array.MaxLength)
            throw new NiftiFormatException(file, "dim", $"{string.Join('x', h.Shape)} voxels of {h.DTypeName} are more than one array holds; split the file");
        long skip = Math.Max(0, h.VoxOffset - already.Length);
        var scratch = new byte[64 * 1024];
        long total = already.Length;
        while (skip > 0)
        {
            int n = Fill(file, stream, scratch.AsSpan(0, (int)Math.Min(skip, scratch.Length)));
            total += n;
            skip -= n;
            if (n == 0) throw new NiftiFormatException(file, "vox_offset", $"{h.VoxOffset} is past the end of the {(h.SingleFile ? "file" : ".img")} ({total} bytes)");
        }
        var raw = new byte[count * width];
        int got = 0;
        if (already.Length > h.VoxOffset)
        {
            got = (int)Math.Min(raw.Length, already.Length - h.VoxOffset);
            Array.Copy(already, h.VoxOffset, raw, 0, got);
        }
        got += Fill(file, stream, raw.AsSpan(got));
        if (got < raw.Length)
        {
            if (got == 0 && h.VoxOffset > 0 && h.SingleFile)
                throw new NiftiFormatException(file, "vox_offset", $"{h.VoxOffset} is at or past the end of the file ({total} bytes): no voxels");
            throw new NiftiFormatException(file, "data", $"truncated: {string.Join('x', h.Shape)} {h.DTypeName} voxels need {raw.Length} bytes after vox_offset {h.VoxOffset}, the file has {got}");
        }
        var values = Decode(raw, h.DataType, h.LittleEndian, (int)count);
        if (UsesSlope(h.Slope))
        {
            double slope = h.Slope, inter = double.IsNaN(h.Intercept) ? 0 : h.Intercept;
            if (slope != 1 || inter != 0)
                for (int i = 0; i < values.Length; i++) values[i] = (float)(values[i] * slope + inter);
        }
        return values;
    }

    /// <summary>Stored values → float32 in file order (the per-voxel loop runs once per file read, not per step).</summary>
    static float[] Decode(byte[] raw, NiftiDataType type, bool little, int count)
    {
        var v = new float[count];
        bool native = little == BitConverter.IsLittleEndian;
        switch (type)
        {
            case NiftiDataType.UInt8: for (int i = 0; i < count; i++) v[i] = raw[i]; break;
            case NiftiDataType.Int8: for (int i = 0; i < count; i++) v[i] = (sbyte)raw[i]; break;
            case NiftiDataType.Int16:
                { var s = Swapped<short>(raw, native); for (int i = 0; i < count; i++) v[i] = s[i]; break; }
            case NiftiDataType.UInt16:
                { var s = Swapped<ushort>(raw, native); for (int i = 0; i < count; i++) v[i] = s[i]; break; }
            case NiftiDataType.Int32:
                { var s = Swapped<int>(raw, native); for (int i = 0; i < count; i++) v[i] = s[i]; break; }
            case NiftiDataType.UInt32:
                { var s = Swapped<uint>(raw, native); for (int i = 0; i < count; i++) v[i] = s[i]; break; }
            case NiftiDataType.Int64:
                { var s = Swapped<long>(raw, native); for (int i = 0; i < count; i++) v[i] = s[i]; break; }
            case NiftiDataType.UInt64:
                { var s = Swapped<ulong>(raw, native); for (int i = 0; i < count; i++) v[i] = s[i]; break; }
            case NiftiDataType.Float32:
                { Swapped<int>(raw, native); MemoryMarshal.Cast<byte, float>(raw.AsSpan()).CopyTo(v); break; }
            case NiftiDataType.Float64:
                { Swapped<long>(raw, native); var s = MemoryMarshal.Cast<byte, double>(raw.AsSpan()); for (int i = 0; i < count; i++) v[i] = (float)s[i]; break; }
            default: throw new InvalidOperationException($"{type} is not decodable");
        }
        return v;
    }

    /// <summary>The raw bytes as T, byte-swapped in place first when the file's order is not the machine's.</summary>
    static Span<T> Swapped<T>(byte[] raw, bool native) where T : unmanaged
    {
        var span = MemoryMarshal.Cast<byte, T>(raw.AsSpan());
        if (!native)
        {
            int size = Marshal.SizeOf<T>();
            switch (size)
            {
                case 2: BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<byte, ushort>(raw.AsSpan()), MemoryMarshal.Cast<byte, ushort>(raw.AsSpan())); break;
                case 4: BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<byte, uint>(raw.AsSpan()), MemoryMarshal.Cast<byte, uint>(raw.AsSpan())); break;
                case 8: BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<byte, ulong>(raw.AsSpan()), MemoryMarshal.Cast<byte, ulong>(raw.AsSpan())); break;
            }
        }
        return span;
    }

    static string Printable(Fields r, int offset, int length) =>
        new string(r.Bytes(offset, length).Select(b => b is >= 32 and < 127 ? (char)b : '.').ToArray()).TrimEnd('.');

    /// <summary>Fixed-offset header fields in the file's byte order.</summary>
    readonly struct Fields(byte[] bytes, bool little)
    {
        public bool Little => little;
        public byte U8(int o) => bytes[o];
        public short I16(int o) => little ? BinaryPrimitives.ReadInt16LittleEndian(bytes.AsSpan(o)) : BinaryPrimitives.ReadInt16BigEndian(bytes.AsSpan(o));
        public int I32(int o) => little ? BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(o)) : BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(o));
        public long I64(int o) => little ? BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(o)) : BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(o));
        public float F32(int o) => little ? BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(o)) : BinaryPrimitives.ReadSingleBigEndian(bytes.AsSpan(o));
        public double F64(int o) => little ? BinaryPrimitives.ReadDoubleLittleEndian(bytes.AsSpan(o)) : BinaryPrimitives.ReadDoubleBigEndian(bytes.AsSpan(o));
        public byte[] Bytes(int o, int n) => bytes[o..(o + n)];
        public string Ascii(int o, int n)
        {
            int end = Array.IndexOf(bytes, (byte)0, o, n);
            return Encoding.ASCII.GetString(bytes, o, (end < 0 ? o + n : end) - o);
        }
    }
}
