using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Maskwork.Backend.Devices;

/// <summary>
/// Process and thread settings of the native runtime that decide CPU training speed (DESIGN.md
/// section 8). Each was measured on the 2-core bench machine with <c>perf stat</c> around
/// <c>Maskwork.Bench mae-step --precision bf16</c>; every call is idempotent and harmless where it does not apply.
/// </summary>
public static class NativeTuning
{
    static readonly object Gate = new();
    static bool allocatorTuned;

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate void OmpSetNumThreads(int n);

    [DllImport("libc", EntryPoint = "mallopt")]
    static extern int Mallopt(int param, int value);

    const int MTrimThreshold = -1, MTopPad = -2, MMmapThreshold = -3;

    /// <summary>
    /// glibc malloc keeps freed tensor memory instead of returning it to the kernel. By default every
    /// activation above the mmap threshold is a fresh mmap, and the heap top is trimmed after each
    /// step, so each step re-faults its working set page by page: 20 K page faults per MAE-Tiny step
    /// (≈ 20 % of its time). Pinning the mmap threshold at glibc's ceiling (32 MiB) and raising the
    /// trim threshold lets the step reuse its memory (4 K faults per step). RSS stays at the
    /// run's peak, as with PyTorch's caching allocators. <c>MASKWORK_MALLOC_TUNING=0</c> turns it off.
    /// </summary>
    /// <returns>True when the settings were applied (glibc Linux).</returns>
    public static bool KeepFreedMemory()
    {
        lock (Gate)
        {
            if (allocatorTuned) return true;
            if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("MASKWORK_MALLOC_TUNING") == "0") return false;
            try
            {
                allocatorTuned = Mallopt(MMmapThreshold, 32 << 20) == 1
                    & Mallopt(MTrimThreshold, 1 << 30) == 1
                    & Mallopt(MTopPad, 64 << 20) == 1;
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                allocatorTuned = false; // not glibc (musl has no mallopt): nothing to tune
            }
            return allocatorTuned;
        }
    }

    /// <summary>
    /// Makes tensor ops issued from the calling thread run on that thread alone. For helper threads
    /// (the data prefetcher) that do small ops beside the training thread: with libtorch's OpenMP
    /// each such thread otherwise brings its own team, libgomp then has more spinning threads than
    /// cores and throttles every team's spin-wait, and the trainer's threads sleep and wake around
    /// every op (measured 92 K context switches in 30 steps, 7 K after; bf16 step 317 → 237 ms).
    /// Only this thread's OpenMP setting changes, unlike <c>torch.set_num_threads</c>, whose value is
    /// also the default of every thread that starts torch work later.
    /// </summary>
    public static void SingleThreadedOps() => LimitThisThread(1);

    /// <summary>
    /// Sets how many threads the tensor ops issued from the calling thread use: OpenMP (libtorch's
    /// kernels, oneDNN) and MKL (libtorch's BLAS, whose count is otherwise process-wide), for this
    /// thread only. The trainer's slice workers run with their share of the cores this way.
    /// </summary>
    public static void LimitThisThread(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "at least one thread");
        _ = get_num_threads(); // libtorch initialises this thread's OpenMP count on first use; do it first so it does not undo ours
        var (omp, mkl) = ThreadSetters.Value;
        omp?.Invoke(threads);
        mkl?.Invoke(threads);
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate int MklSetNumThreadsLocal(int n);

    static readonly Lazy<(OmpSetNumThreads? Omp, MklSetNumThreadsLocal? Mkl)> ThreadSetters = new(FindThreadSetters);

    static (OmpSetNumThreads? Omp, MklSetNumThreadsLocal? Mkl) FindThreadSetters()
    {
        // dlsym on libtorch_cpu's handle searches its dependencies too, so this finds the OpenMP
        // runtime libtorch was linked with (a hashed libgomp name in the TorchSharp packages) and
        // the MKL linked into it. MKL's C entry point is the mixed-case one; the lower-case name is
        // the Fortran interface, which takes a pointer.
        // With a user libtorch (UserLibtorch) only its copy: opening the packaged file by path would map a second libtorch.
        string[] candidates = UserLibtorch.Folder is { } user ? [Path.Combine(user, "libtorch_cpu.so")] : [Path.Combine(AppContext.BaseDirectory, "libtorch_cpu.so"), "libtorch_cpu.so"];
        foreach (var name in candidates)
        {
            if (!NativeLibrary.TryLoad(name, out var handle) || !NativeLibrary.TryGetExport(handle, "omp_set_num_threads", out var omp)) continue;
            var mkl = NativeLibrary.TryGetExport(handle, "MKL_Set_Num_Threads_Local", out var m) ? Marshal.GetDelegateForFunctionPointer<MklSetNumThreadsLocal>(m) : null;
            return (Marshal.GetDelegateForFunctionPointer<OmpSetNumThreads>(omp), mkl);
        }
        return (null, null);
    }
}
