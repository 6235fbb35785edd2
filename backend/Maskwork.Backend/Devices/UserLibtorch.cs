using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace Maskwork.Backend.Devices;

/// <summary>A user libtorch that cannot be used: a version mismatch with the shim, a missing file, or too late to switch.</summary>
public sealed class LibtorchException(string message) : Exception(message);

/// <summary>
/// A libtorch already on the machine used instead of the packaged CPU one (DESIGN.md section 7): a
/// PyTorch install's <c>torch/lib</c> or an unpacked libtorch's <c>lib</c>, e.g. with <c>libtorch_cuda.so</c>.
/// Its libraries are loaded by full path in dependency order (c10, c10_cuda, torch_cpu, torch_cuda,
/// torch) before TorchSharp initialises; TorchSharp's native shim (<c>libLibTorchSharp.so</c>, from the
/// folder when it holds one rebuilt by <c>build/build-libtorchsharp.sh</c>, else the packaged one) then
/// binds to them, because the dynamic linker matches its dependencies to already loaded libraries by name.
/// </summary>
public static class UserLibtorch
{
    /// <summary>The libtorch version the packaged shim was built for (TorchSharp 0.107 ↔ libtorch 2.10).</summary>
    public const string ShimLibtorchVersion = "2.10";

    static readonly string[] LoadOrder = ["libc10.so", "libc10_cuda.so", "libtorch_cpu.so", "libtorch_cuda.so", "libtorch.so"];
    static readonly List<string> preloaded = [];
    static readonly object Gate = new();
    static IntPtr shimHandle;

    /// <summary>The folder in use, or null when the packaged libtorch is.</summary>
    public static string? Folder { get; private set; }

    /// <summary>The folder's libtorch version (from <c>../version.py</c> or <c>build-version</c>), or null when it says none.</summary>
    public static string? Version { get; private set; }

    /// <summary>The shim in use with the folder.</summary>
    public static string? Shim { get; private set; }

    /// <summary>The libraries loaded from the folder, in load order.</summary>
    public static IReadOnlyList<string> Preloaded => preloaded;

    /// <summary>
    /// Loads libtorch from <paramref name="folder"/>. Call before any TorchSharp use; idempotent for the same folder.
    /// </summary>
    /// <param name="folder">The folder holding libtorch_cpu.so, libc10.so and libtorch.so (and for CUDA libtorch_cuda.so, libc10_cuda.so).</param>
    /// <param name="shim">A libLibTorchSharp.so built against this libtorch; default: the folder's, else the packaged one.</param>
    /// <exception cref="LibtorchException">Files are missing, the version does not match the shim, or TorchSharp already loaded another libtorch.</exception>
    public static void Use(string folder, string? shim = null)
    {
        lock (Gate)
        {
            folder = Path.GetFullPath(folder);
            if (Folder is not null)
            {
                if (Folder == folder) return;
                throw new LibtorchException($"libtorch is already loaded from {Folder}; one process uses one libtorch");
            }
            var mapped = LoadedFiles().Where(f => Path.GetFileName(f).StartsWith("libtorch_cpu", StringComparison.Ordinal)).ToList();
            if (mapped.Count > 0)
                throw new LibtorchException($"libtorch was already loaded from {Path.GetDirectoryName(mapped[0])} before the Libtorch setting was applied; set it before any tensor work");
            if (!Directory.Exists(folder)) throw new LibtorchException($"the Libtorch folder {folder} does not exist");
            var missing = new[] { "libc10.so", "libtorch_cpu.so", "libtorch.so" }.Where(f => !File.Exists(Path.Combine(folder, f))).ToList();
            if (missing.Count > 0)
                throw new LibtorchException($"the Libtorch folder {folder} lacks {string.Join(", ", missing)}: name the folder holding libtorch's shared libraries (a PyTorch install's torch/lib, or libtorch/lib)");

            // TorchSharp asks the runtime for "torch_cpu" by name, and the runtime's probing finds a packaged copy beside the
            // app before anything already loaded: two libtorch copies then abort the process ("multiple backend fallbacks").
            string packagedLibtorch = Path.Combine(AppContext.BaseDirectory, "libtorch_cpu.so");
            if (File.Exists(packagedLibtorch) && Path.GetDirectoryName(packagedLibtorch) != folder)
                throw new LibtorchException($"the Libtorch setting needs a maskwork build without the packaged libtorch, but {packagedLibtorch} is there. " +
                    "Use the build that build/gpu-check.sh pack makes (or copy the app folder without lib{torch,c10,gomp}*.so), then set Libtorch again.");
            Version = ReadVersion(folder);
            string packaged = Path.Combine(AppContext.BaseDirectory, "libLibTorchSharp.so");
            string own = Path.Combine(folder, "libLibTorchSharp.so");
            Shim = Path.GetFullPath(shim ?? (File.Exists(own) ? own : packaged));
            if (!File.Exists(Shim)) throw new LibtorchException($"the TorchSharp shim {Shim} does not exist; build one with build/build-libtorchsharp.sh");
            // A shim rebuilt by build/build-libtorchsharp.sh says which libtorch it was built for in a file beside it; the packaged one is for 2.10.
            string shimFor = File.Exists(Shim + ".libtorch-version") ? File.ReadAllText(Shim + ".libtorch-version").Trim() : ShimLibtorchVersion;
            if (Version is not null && !SameMinor(Version, MajorMinor(shimFor)))
                throw new LibtorchException($"the libtorch in {folder} is version {Version}, but {Shim} is built for libtorch {MajorMinor(shimFor)}.x. " +
                    $"Rebuild the shim against it: build/build-libtorchsharp.sh {folder} (it writes {own}, which is then used), or point Libtorch at a libtorch {ShimLibtorchVersion}.x.");

            foreach (var name in LoadOrder)
            {
                string path = Path.Combine(folder, name);
                if (!File.Exists(path)) continue;
                // Full path and RTLD_GLOBAL, as PyTorch loads them: later libraries (and the shim) resolve against these copies.
                if (DlOpen(path, RtldNow | RtldGlobal) == IntPtr.Zero)
                    throw new LibtorchException($"{path} did not load: {Marshal.PtrToStringAnsi(DlError()) ?? "unknown error"}" +
                        (name.Contains("cuda", StringComparison.Ordinal) ? " (CUDA libraries need the NVIDIA driver and the CUDA runtime libraries they were built with)" : ""));
                preloaded.Add(path);
            }
            shimHandle = DlOpen(Shim, RtldNow | RtldGlobal);
            if (shimHandle == IntPtr.Zero)
                throw new LibtorchException($"{Shim} did not load against the libtorch in {folder}: {Marshal.PtrToStringAnsi(DlError()) ?? "unknown error"}. " +
                    $"A shim built for another libtorch version fails like this: rebuild it with build/build-libtorchsharp.sh {folder}.");

            // TorchSharp's own loader would search its folder for libtorch_cpu.so and could map a second
            // copy; the P/Invokes of TorchSharp (and of this backend) resolve to the shim just loaded instead.
            DllImportResolver resolver = (name, _, _) => name is "LibTorchSharp" or "libLibTorchSharp" or "libLibTorchSharp.so" ? shimHandle : IntPtr.Zero;
            NativeLibrary.SetDllImportResolver(typeof(TorchSharp.torch).Assembly, resolver);
            NativeLibrary.SetDllImportResolver(typeof(UserLibtorch).Assembly, resolver);
            bool cuda = preloaded.Any(p => Path.GetFileName(p) == "libtorch_cuda.so");
            // TorchSharp's type initializer probes for CUDA (it finds the shim loaded above) and resets its
            // flags: run it first, then mark the CPU (and CUDA) backends loaded so it never probes for torch_cpu.
            System.Runtime.CompilerServices.RuntimeHelpers.RunClassConstructor(typeof(TorchSharp.torch).TypeHandle);
            MarkLoaded("nativeBackendLoaded");
            if (cuda) MarkLoaded("nativeBackendCudaLoaded");
            Folder = folder;
        }
    }

    /// <summary>Tells TorchSharp its native backend is loaded (it is: above), so it does not search for another.</summary>
    static void MarkLoaded(string field) =>
        typeof(TorchSharp.torch).GetField(field, BindingFlags.NonPublic | BindingFlags.Static)?.SetValue(null, true);

    /// <summary>The libtorch version a folder declares: a PyTorch install's <c>../version.py</c>, or a libtorch's <c>build-version</c> (in the folder or above it).</summary>
    public static string? ReadVersion(string folder)
    {
        var py = Path.Combine(folder, "..", "version.py");
        if (File.Exists(py) && Regex.Match(File.ReadAllText(py), @"__version__\s*=\s*['""]([^'""]+)['""]") is { Success: true } m) return m.Groups[1].Value;
        foreach (var f in new[] { Path.Combine(folder, "build-version"), Path.Combine(folder, "..", "build-version") })
            if (File.Exists(f) && File.ReadAllText(f).Trim() is { Length: > 0 } v) return v;
        return null;
    }

    static string MajorMinor(string version) => string.Join('.', version.Split('+')[0].Split('.').Take(2));

    static bool SameMinor(string version, string majorMinor) =>
        version == majorMinor || version.StartsWith(majorMinor + ".", StringComparison.Ordinal) || version.StartsWith(majorMinor + "+", StringComparison.Ordinal);

    /// <summary>The libtorch, c10, TorchSharp-shim and CUDA-runtime files mapped into this process (from /proc/self/maps).</summary>
    public static IReadOnlyList<string> LoadedFiles()
    {
        if (!File.Exists("/proc/self/maps")) return [];
        var found = new List<string>();
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            int slash = line.IndexOf('/');
            if (slash < 0) continue;
            string path = line[slash..].Trim();
            string name = Path.GetFileName(path);
            if (Regex.IsMatch(name, @"^lib(torch|c10|LibTorchSharp|cudart|cublas|cudnn|nccl)") && !found.Contains(path)) found.Add(path);
        }
        return found;
    }

    const int RtldNow = 2, RtldGlobal = 0x100;
    [DllImport("libc", EntryPoint = "dlopen")] static extern IntPtr DlOpen(string file, int mode);
    [DllImport("libc", EntryPoint = "dlerror")] static extern IntPtr DlError();
}
