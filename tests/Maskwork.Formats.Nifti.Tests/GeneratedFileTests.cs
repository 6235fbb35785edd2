using System.Buffers.Binary;
using Maskwork.Formats.Nifti;

namespace Maskwork.Formats.Nifti.Tests;

/// <summary>Files written field by field (<see cref="NiftiBuilder"/>): every datatype, both byte orders, pairs, extensions, affines, and broken copies.</summary>
public sealed class GeneratedFileTests : IDisposable
{
    readonly string root = Directory.CreateTempSubdirectory("mw-nifti-").FullName;
    public void Dispose() => Directory.Delete(root, true);

    string P(string name) => Path.Combine(root, name);

    public static TheoryData<NiftiDataType, bool, int> Types()
    {
        var d = new TheoryData<NiftiDataType, bool, int>();
        foreach (var t in new[] { NiftiDataType.UInt8, NiftiDataType.Int8, NiftiDataType.Int16, NiftiDataType.UInt16, NiftiDataType.Int32,
                     NiftiDataType.UInt32, NiftiDataType.Int64, NiftiDataType.UInt64, NiftiDataType.Float32, NiftiDataType.Float64 })
            foreach (bool little in new[] { true, false })
                foreach (int version in new[] { 1, 2 })
                    d.Add(t, little, version);
        return d;
    }

    static double[] ValuesFor(NiftiDataType t, int n) => Enumerable.Range(0, n).Select(i => t switch
    {
        NiftiDataType.UInt8 => (double)(i * 37 % 256),
        NiftiDataType.Int8 => i * 37 % 256 - 128,
        NiftiDataType.Int16 => (i * 4099 % 65536) - 32768,
        NiftiDataType.UInt16 => i * 4099 % 65536,
        NiftiDataType.Int32 or NiftiDataType.Int64 => (i - 12) * 1_000_003,
        NiftiDataType.UInt32 or NiftiDataType.UInt64 => i * 150_000_001.0,
        _ => (i - 12) * 0.125,
    }).ToArray();

    [Theory]
    [MemberData(nameof(Types))]
    public void Every_datatype_in_both_byte_orders(NiftiDataType type, bool little, int version)
    {
        var values = ValuesFor(type, 24);
        var b = new NiftiBuilder { DataType = type, Little = little, Version = version, Values = values };
        var img = NiftiFile.Read(b.Write(P($"t.nii")));
        Assert.Equal(little, img.Header.LittleEndian);
        Assert.Equal(type, img.Header.DataType);
        Assert.Equal([4L, 3, 2], img.Header.Shape);
        Assert.Equal(values.Select(v => (float)v).ToArray(), img.Data);
    }

    [Fact]
    public void Slope_and_intercept_apply_unless_the_slope_is_zero_or_nan()
    {
        var values = ValuesFor(NiftiDataType.Int16, 24);
        var scaled = NiftiFile.Read(new NiftiBuilder { Values = values, SclSlope = 0.5, SclInter = -3 }.Write(P("s.nii")));
        Assert.Equal(values.Select(v => (float)(v * 0.5 - 3)).ToArray(), scaled.Data);
        foreach (double slope in new[] { 0.0, double.NaN })
        {
            var raw = NiftiFile.Read(new NiftiBuilder { Values = values, SclSlope = slope, SclInter = 100 }.Write(P("r.nii")));
            Assert.Equal(values.Select(v => (float)v).ToArray(), raw.Data);
        }
        // A NaN intercept with a real slope is 0, as nibabel.
        var nanInter = NiftiFile.Read(new NiftiBuilder { Values = values, SclSlope = 2, SclInter = double.NaN }.Write(P("n.nii")));
        Assert.Equal(values.Select(v => (float)(v * 2)).ToArray(), nanInter.Data);
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(1, true)]
    [InlineData(2, false)]
    public void Hdr_img_pairs_read_from_either_name(int version, bool gzip)
    {
        var b = new NiftiBuilder { Pair = true, Version = version, Little = false, DataType = NiftiDataType.Float32 };
        string hdr = b.Write(P("pair.nii"), gzip);
        Assert.EndsWith(gzip ? ".hdr.gz" : ".hdr", hdr);
        var img = NiftiFile.Read(hdr);
        Assert.False(img.Header.SingleFile);
        Assert.Equal(b.Data.Select(v => (float)v).ToArray(), img.Data);
        Assert.Equal(img.Data, NiftiFile.Read(P(gzip ? "pair.img.gz" : "pair.img")).Data);
        File.Delete(P(gzip ? "pair.img.gz" : "pair.img"));
        var e = Assert.Throws<NiftiFormatException>(() => NiftiFile.Read(hdr));
        Assert.Equal(hdr, e.File);
        Assert.Contains("pair.img", e.Message);
    }

    [Fact]
    public void A_pair_with_a_data_offset_in_the_img()
    {
        var b = new NiftiBuilder { Pair = true, VoxOffset = 96 };
        Assert.Equal(b.Data.Select(v => (float)v).ToArray(), NiftiFile.Read(b.Write(P("off.hdr"))).Data);
    }

    [Fact]
    public void Gzip_is_recognised_by_its_bytes_not_its_name()
    {
        var b = new NiftiBuilder();
        File.WriteAllBytes(P("zipped.nii"), NiftiBuilder.Gzip(b.Single()));
        File.WriteAllBytes(P("plain.nii.gz"), b.Single());
        Assert.Equal(NiftiFile.Read(P("zipped.nii")).Data, NiftiFile.Read(P("plain.nii.gz")).Data);
    }

    [Fact]
    public void Extensions_are_walked_and_the_offset_comes_from_vox_offset()
    {
        var b = new NiftiBuilder { Extensions = [(4, "<afni/>"), (6, "a comment that needs two blocks")] };
        var img = NiftiFile.Read(b.Write(P("ext.nii")));
        Assert.Equal([4, 6], img.Header.Extensions.Select(e => e.Code).ToArray());
        Assert.StartsWith("a comment that needs two blocks", System.Text.Encoding.ASCII.GetString(img.Header.Extensions[1].Content));
        Assert.Equal(b.Data.Select(v => (float)v).ToArray(), img.Data);
        // Padding after the extensions: the data still starts at vox_offset.
        var padded = b with { VoxOffset = 1024 };
        Assert.Equal(b.Data.Select(v => (float)v).ToArray(), NiftiFile.Read(padded.Write(P("pad.nii"))).Data);
        // An extension whose esize runs past vox_offset is refused.
        var bytes = b.Single();
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(352), 4096);
        File.WriteAllBytes(P("badext.nii"), bytes);
        AssertRefused(P("badext.nii"), "extension");
    }

    [Fact]
    public void Affine_from_qform_with_qfac_zero_read_as_one_and_from_pixdim()
    {
        // A 90° rotation about z (quaternion (0, 0, sin 45°)), qfac 0 → 1: x runs along +y, y along −x.
        double s = Math.Sqrt(0.5);
        var q = new NiftiBuilder { QformCode = 1, Quatern = [0, 0, s, 10, 20, 30], PixDim = [0, 2, 3, 4, 1, 1, 1, 1] };
        var h = NiftiFile.Read(q.Write(P("q.nii"))).Header;
        Assert.Equal(AffineSource.Qform, h.AffineSource);
        double[] expected = [0, -3, 0, 10, 2, 0, 0, 20, 0, 0, 4, 30, 0, 0, 0, 1];
        for (int i = 0; i < 16; i++) Assert.Equal(expected[i], h.Affine[i], 6);
        Assert.Equal("ALS", h.Orientation);
        // No codes: nibabel's base affine (x flipped, centred on the middle voxel).
        var p = NiftiFile.Read(new NiftiBuilder().Write(P("p.nii"))).Header;
        Assert.Equal(AffineSource.Pixdim, p.AffineSource);
        Assert.Equal([-2, 0, 0, 3, 0, 3, 0, -3, 0, 0, 4, -2, 0, 0, 0, 1], p.Affine);
        Assert.Equal("LAS", p.Orientation);
        // The sform wins when both are set.
        var both = q with { SformCode = 2, Srow = [-1, 0, 0, 5, 0, -1, 0, 6, 0, 0, 1, 7] };
        var sh = NiftiFile.Read(both.Write(P("b.nii"))).Header;
        Assert.Equal(AffineSource.Sform, sh.AffineSource);
        Assert.Equal("LPS", sh.Orientation);
        Assert.Equal([2.0, 3, 4], sh.Spacing);
    }

    [Fact]
    public void Analyze_is_refused_unless_allowed()
    {
        var b = new NiftiBuilder { Version = 0, Pair = true, Little = false };
        string hdr = b.Write(P("analyze.hdr"));
        AssertRefused(hdr, "magic", "allow_analyze");
        var img = NiftiFile.Read(hdr, new NiftiReadOptions(AllowAnalyze: true));
        Assert.Equal(NiftiVersion.Analyze, img.Header.Version);
        Assert.Equal(b.Data.Select(v => (float)v).ToArray(), img.Data);
        Assert.Equal(AffineSource.Pixdim, img.Header.AffineSource);
    }

    [Theory]
    [InlineData(NiftiDataType.Complex64, "complex")]
    [InlineData(NiftiDataType.Complex128, "complex")]
    [InlineData(NiftiDataType.Rgb24, "colour")]
    [InlineData(NiftiDataType.Rgba32, "colour")]
    [InlineData(NiftiDataType.Float128, "float128")]
    [InlineData((NiftiDataType)3, "not a NIfTI datatype")]
    public void Complex_rgb_and_unknown_datatypes_are_refused_clearly(NiftiDataType type, string words)
    {
        var b = new NiftiBuilder { DataType = type, BitPix = type == (NiftiDataType)3 ? 16 : null };
        AssertRefused(b.Write(P("c.nii")), "datatype", words);
    }

    [Fact]
    public void Header_fields_out_of_range_are_refused_naming_the_field()
    {
        var good = new NiftiBuilder();
        AssertRefused((good with { BitPix = 8 }).Write(P("bitpix.nii")), "bitpix", "does not match");
        AssertRefused((good with { Dims = [4, 0, 2] }).Write(P("dim2.nii")), "dim[2]");
        AssertRefused((good with { PixDim = [0.5, 1, 1, 1, 1, 1, 1, 1] }).Write(P("qfac.nii")), "pixdim[0]", "qfac");
        AssertRefused((good with { QformCode = 1, Quatern = [0.9, 0.9, 0, 0, 0, 0] }).Write(P("quat.nii")), "quatern_b/c/d");
        AssertRefused((good with { SformCode = 9 }).Write(P("sform.nii")), "sform_code");
        AssertRefused((good with { VoxOffset = 300 }).Write(P("inside.nii")), "vox_offset", "inside the header");
        AssertRefused((good with { Version = 2, VoxOffset = 540 }).Write(P("inside2.nii")), "vox_offset", "544");
        AssertRefused((good with { SclSlope = 1, SclInter = double.PositiveInfinity }).Write(P("inter.nii")), "scl_inter");
    }

    // ---- corrupted copies of real files ----

    string CopyOf(string name, Action<byte[]> damage, string? asName = null)
    {
        var bytes = File.ReadAllBytes(RealFileTests.Shared("medical/" + name));
        damage(bytes);
        string path = P(asName ?? name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void Truncated_data_is_refused()
    {
        var bytes = File.ReadAllBytes(RealFileTests.Shared("medical/anatomical.nii"));
        File.WriteAllBytes(P("cut.nii"), bytes[..^100]);
        AssertRefused(P("cut.nii"), "data", "truncated");
        // The same inside gzip: the decompressed stream ends early.
        File.WriteAllBytes(P("cut.nii.gz"), NiftiBuilder.Gzip(bytes[..^100]));
        AssertRefused(P("cut.nii.gz"), "data", "truncated");
        // A gzip stream cut in the middle.
        var gz = File.ReadAllBytes(RealFileTests.Shared("medical/example4d.nii.gz"));
        File.WriteAllBytes(P("cutgz.nii.gz"), gz[..(gz.Length / 2)]);
        var e = Assert.Throws<NiftiFormatException>(() => NiftiFile.Read(P("cutgz.nii.gz")));
        Assert.Contains(e.Field, new[] { "data", "gzip" });
        // Shorter than a header.
        File.WriteAllBytes(P("tiny.nii"), bytes[..200]);
        AssertRefused(P("tiny.nii"), "sizeof_hdr", "200 bytes");
    }

    [Fact]
    public void Bad_magic_is_refused()
    {
        AssertRefused(CopyOf("anatomical.nii", b => b[345] = (byte)'x'), "magic", "'nx1'");
        // NIfTI-2: bad magic and a mangled end-of-line check (gunzip first, then damage).
        var n2 = Decompress(File.ReadAllBytes(RealFileTests.Shared("medical/example_nifti2.nii.gz")));
        var bad = (byte[])n2.Clone();
        bad[5] = (byte)'?';
        File.WriteAllBytes(P("n2magic.nii"), bad);
        AssertRefused(P("n2magic.nii"), "magic", "n+2");
        var eol = (byte[])n2.Clone();
        eol[8] = (byte)'\n';
        File.WriteAllBytes(P("n2eol.nii"), eol);
        AssertRefused(P("n2eol.nii"), "magic", "end-of-line");
    }

    [Fact]
    public void Bad_sizeof_hdr_is_refused()
    {
        AssertRefused(CopyOf("functional.nii", b => BinaryPrimitives.WriteInt32LittleEndian(b, 349)), "sizeof_hdr", "349");
    }

    [Theory]
    [InlineData((short)0)]
    [InlineData((short)8)]
    [InlineData((short)-3)]
    public void Bad_dim0_is_refused(short dim0)
    {
        // anatomical.nii is big-endian: write dim[0] that way.
        AssertRefused(CopyOf("anatomical.nii", b => BinaryPrimitives.WriteInt16BigEndian(b.AsSpan(40), dim0)), "dim[0]", $"{dim0}");
    }

    [Fact]
    public void Vox_offset_past_the_end_is_refused()
    {
        AssertRefused(CopyOf("functional.nii", b => BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(108), 1_000_000f)), "vox_offset", "past the end");
        AssertRefused(CopyOf("functional.nii", b => BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(108), 352.5f), "half.nii"), "vox_offset", "whole");
    }

    static byte[] Decompress(byte[] gz)
    {
        using var s = new System.IO.Compression.GZipStream(new MemoryStream(gz), System.IO.Compression.CompressionMode.Decompress);
        var ms = new MemoryStream();
        s.CopyTo(ms);
        return ms.ToArray();
    }

    static void AssertRefused(string path, string field, string? words = null)
    {
        var e = Assert.Throws<NiftiFormatException>(() => NiftiFile.Read(path));
        Assert.Equal(path, e.File);
        Assert.Equal(field, e.Field);
        Assert.StartsWith(path + ": " + field + ": ", e.Message);
        if (words is not null) Assert.Contains(words, e.Message);
    }
}
