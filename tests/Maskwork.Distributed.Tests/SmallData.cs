using System.IO.Compression;

namespace Maskwork.Distributed.Tests;

/// <summary>The first images of the installed Fashion-MNIST as an IDX folder of their own (reading all 60,000 per rank would dominate a 5-step test).</summary>
public static class SmallData
{
    const string Source = "/usr/share/datasets/fashion-mnist";

    /// <summary>Writes train-{images,labels} of the first <paramref name="count"/> samples into <paramref name="folder"/>; returns the --data spec.</summary>
    public static string FashionMnist(string folder, int count)
    {
        Assert.True(File.Exists(Path.Combine(Source, "train-images-idx3-ubyte.gz")), "Fashion-MNIST is missing: apt-get install dataset-fashion-mnist (./test.sh does it)");
        Directory.CreateDirectory(folder);
        Copy("train-images-idx3-ubyte", 16, 28 * 28);
        Copy("train-labels-idx1-ubyte", 8, 1);
        return $"fashion-mnist:{folder}";

        void Copy(string name, int header, int bytesPerSample)
        {
            using var gz = new GZipStream(File.OpenRead(Path.Combine(Source, name + ".gz")), CompressionMode.Decompress);
            var head = new byte[header];
            gz.ReadExactly(head);
            var body = new byte[count * bytesPerSample];
            gz.ReadExactly(body);
            // The count is the big-endian int after the magic.
            head[4] = (byte)(count >> 24); head[5] = (byte)(count >> 16); head[6] = (byte)(count >> 8); head[7] = (byte)count;
            using var o = File.Create(Path.Combine(folder, name));
            o.Write(head);
            o.Write(body);
        }
    }
}
