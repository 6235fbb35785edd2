namespace Maskwork.Formats.Geometry;

/// <summary>
/// LZF decompression (Marc Lehmann's liblzf format, as PCL's <c>binary_compressed</c> uses it).
/// A control byte below 32 starts a literal run of ctrl+1 bytes; otherwise its top three bits are a
/// back-reference length − 2 (7 means "add the next byte") and its low five bits with the next
/// byte are the distance − 1. Every read and write is bounds-checked: corrupt input gives a
/// <see cref="InvalidDataException"/>, never an out-of-range access.
/// </summary>
public static class Lzf
{
    /// <summary>Decompresses <paramref name="input"/>, which must expand to exactly <paramref name="expectedLength"/> bytes.</summary>
    public static byte[] Decompress(ReadOnlySpan<byte> input, int expectedLength)
    {
        if (expectedLength < 0) throw new InvalidDataException($"negative decompressed size {expectedLength}");
        var output = new byte[expectedLength];
        int ip = 0, op = 0;
        while (ip < input.Length)
        {
            int ctrl = input[ip++];
            if (ctrl < 32)
            {
                int run = ctrl + 1;
                if (ip + run > input.Length) throw new InvalidDataException($"literal run of {run} bytes at input offset {ip - 1} passes the end of the compressed data");
                if (op + run > output.Length) throw new InvalidDataException($"literal run at input offset {ip - 1} writes past the declared size {expectedLength}");
                input.Slice(ip, run).CopyTo(output.AsSpan(op));
                ip += run;
                op += run;
            }
            else
            {
                int length = ctrl >> 5;
                if (length == 7)
                {
                    if (ip >= input.Length) throw new InvalidDataException("back-reference length byte missing at the end of the compressed data");
                    length += input[ip++];
                }
                if (ip >= input.Length) throw new InvalidDataException("back-reference distance byte missing at the end of the compressed data");
                int reference = op - ((ctrl & 0x1f) << 8) - 1 - input[ip++];
                length += 2;
                if (reference < 0) throw new InvalidDataException($"back-reference at input offset {ip - 2} points before the start of the output");
                if (op + length > output.Length) throw new InvalidDataException($"back-reference at input offset {ip - 2} writes past the declared size {expectedLength}");
                // Byte by byte: source and destination may overlap (run-length style references).
                for (int i = 0; i < length; i++) output[op++] = output[reference++];
            }
        }
        if (op != expectedLength) throw new InvalidDataException($"the compressed data expands to {op} bytes, not the declared {expectedLength}");
        return output;
    }

    /// <summary>
    /// A minimal LZF compressor (greedy, 3-byte hash) producing data that <see cref="Decompress"/> and
    /// liblzf both read. Used to write PCD <c>binary_compressed</c> files and in tests.
    /// </summary>
    public static byte[] Compress(ReadOnlySpan<byte> input)
    {
        var output = new List<byte>(input.Length + input.Length / 16 + 16);
        var table = new Dictionary<int, int>();
        var literal = new List<byte>(32);
        void FlushLiteral()
        {
            if (literal.Count == 0) return;
            output.Add((byte)(literal.Count - 1));
            output.AddRange(literal);
            literal.Clear();
        }
        int ip = 0;
        while (ip < input.Length)
        {
            if (ip + 2 < input.Length)
            {
                int key = input[ip] << 16 | input[ip + 1] << 8 | input[ip + 2];
                if (table.TryGetValue(key, out int candidate) && ip - candidate - 1 < 8192)
                {
                    int max = Math.Min(264, input.Length - ip), length = 0;
                    while (length < max && input[candidate + length] == input[ip + length]) length++;
                    if (length >= 3)
                    {
                        FlushLiteral();
                        int distance = ip - candidate - 1, code = length - 2;
                        if (code < 7) output.Add((byte)((code << 5) | (distance >> 8)));
                        else { output.Add((byte)((7 << 5) | (distance >> 8))); output.Add((byte)(code - 7)); }
                        output.Add((byte)(distance & 0xff));
                        for (int i = 0; i < length; i++)
                            if (ip + i + 2 < input.Length) table[input[ip + i] << 16 | input[ip + i + 1] << 8 | input[ip + i + 2]] = ip + i;
                        ip += length;
                        continue;
                    }
                }
                table[key] = ip;
            }
            literal.Add(input[ip++]);
            if (literal.Count == 32) FlushLiteral();
        }
        FlushLiteral();
        return output.ToArray();
    }
}
