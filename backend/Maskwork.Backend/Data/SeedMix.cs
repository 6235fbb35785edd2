namespace Maskwork.Backend.Data;

/// <summary>
/// Derives independent seeds from (seed, index, …) with SplitMix64. Unlike <see cref="HashCode"/>
/// (randomised per process) the result is the same in every process, which exact resume needs.
/// </summary>
public static class SeedMix
{
    public static long Of(long seed, long a, long b = 0)
    {
        ulong x = Next((ulong)seed);
        x = Next(x ^ (ulong)a);
        x = Next(x ^ (ulong)b);
        return (long)(x & 0x7fffffffffffffffUL);
    }

    static ulong Next(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
