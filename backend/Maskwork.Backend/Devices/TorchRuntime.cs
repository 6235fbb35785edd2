using System.Runtime.InteropServices;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Maskwork.Backend.Devices;

/// <summary>Loads libtorch once, says plainly why when it cannot, and picks the device.</summary>
public static class TorchRuntime
{
    static readonly object Gate = new();
    static string? failure;
    static bool loaded;

    /// <summary>True once libtorch answered a tensor op.</summary>
    public static bool TryLoad(out string detail)
    {
        lock (Gate)
        {
            if (!loaded && failure is null)
            {
                try
                {
                    NativeTuning.KeepFreedMemory(); // before libtorch allocates anything
                    using var t = ones(2, 2);
                    _ = t.sum().item<float>();
                    loaded = true;
                }
                catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or NotSupportedException or InvalidOperationException or EntryPointNotFoundException)
                {
                    failure = Diagnose(e);
                }
            }
            detail = loaded ? (UserLibtorch.Folder is { } user ? $"libtorch {UserLibtorch.Version ?? "(version unknown)"} loaded from {user} (the Libtorch setting)"
                : $"libtorch {torch.__version__} loaded from {AppContext.BaseDirectory}") : failure!;
            return loaded;
        }
    }

    /// <summary>Loads libtorch or throws with the diagnosis.</summary>
    public static void EnsureLoaded()
    {
        if (!TryLoad(out var detail)) throw new InvalidOperationException(detail);
    }

    /// <summary>Resolves <c>cpu|cuda|auto</c>.</summary>
    public static torch.Device Select(string choice)
    {
        EnsureLoaded();
        switch (choice.ToLowerInvariant())
        {
            case "cpu": return CPU;
            case "auto": return cuda.is_available() ? CUDA : CPU;
            case "cuda":
                if (!cuda.is_available())
                    throw new InvalidOperationException(
                        "--device cuda was asked for but no CUDA device is usable: this build carries the CPU libtorch. " +
                        "Build with -p:MaskworkTorchPackage=TorchSharp-cuda-linux on a machine with an NVIDIA driver, or use --device cpu.");
                return CUDA;
            default:
                throw new ArgumentException($"unknown device '{choice}': use cpu, cuda or auto");
        }
    }

    static string Diagnose(Exception e)
    {
        var sb = new StringBuilder("libtorch did not load: ").Append(Innermost(e).Message.Split('\n')[0].Trim());
        string lib = Path.Combine(AppContext.BaseDirectory, "libLibTorchSharp.so");
        if (OperatingSystem.IsLinux())
        {
            if (!File.Exists(lib))
            {
                sb.Append($". {lib} is missing: build the project with `dotnet build` (the executable must reference TorchSharp-cpu).");
                return sb.ToString();
            }
            try { NativeLibrary.Free(NativeLibrary.Load(lib)); }
            catch (DllNotFoundException dl) { sb.Append($". Loading {lib} directly says: {dl.Message.Split('\n')[0]}"); }
            string? need = MaxGlibcxx(File.ReadAllBytes(lib));
            string? have = SystemGlibcxx();
            if (need is not null && have is not null && string.CompareOrdinal(Pad(need), Pad(have)) > 0)
                sb.Append($". libLibTorchSharp.so asks for {need} but the system libstdc++ stops at {have}. " +
                          "The Maskwork build marks that requirement weak (DESIGN.md section 7): rebuild with `dotnet build`, " +
                          "or install a newer libstdc++6.");
        }
        return sb.ToString();
    }

    static Exception Innermost(Exception e) => e.InnerException is null ? e : Innermost(e.InnerException);

    static string Pad(string v) => string.Join('.', v["GLIBCXX_".Length..].Split('.').Select(p => p.PadLeft(4, '0')));

    static string? MaxGlibcxx(byte[] bytes)
    {
        var found = new List<string>();
        var text = Encoding.ASCII.GetString(bytes);
        int i = 0;
        while ((i = text.IndexOf("GLIBCXX_3.", i, StringComparison.Ordinal)) >= 0)
        {
            int end = i;
            while (end < text.Length && (char.IsDigit(text[end]) || text[end] == '.' || char.IsLetter(text[end]) || text[end] == '_')) end++;
            found.Add(text[i..end].TrimEnd('.'));
            i = end;
        }
        return found.Where(f => f.Count(c => c == '.') >= 2).OrderBy(Pad, StringComparer.Ordinal).LastOrDefault();
    }

    static string? SystemGlibcxx()
    {
        foreach (var dir in new[] { "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib" })
        {
            string p = Path.Combine(dir, "libstdc++.so.6");
            if (File.Exists(p)) return MaxGlibcxx(File.ReadAllBytes(p));
        }
        return null;
    }
}
