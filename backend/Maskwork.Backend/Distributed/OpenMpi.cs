using System.Runtime.InteropServices;

namespace Maskwork.Backend.Distributed;

/// <summary>Raised when OpenMPI cannot be used (library missing, initialisation failed); says what to install or do.</summary>
public sealed class CommunicatorException(string message) : Exception(message);

/// <summary>
/// The OpenMPI communicator: P/Invoke of <c>libmpi.so.40</c> (MPI.NET on NuGet is MS-MPI on Windows only).
/// OpenMPI's handles are pointers to exported globals (<c>MPI_COMM_WORLD</c> is <c>&amp;ompi_mpi_comm_world</c>,
/// <c>MPI_FLOAT</c> is <c>&amp;ompi_mpi_float</c>), read once with <c>dlsym</c>; <c>MPI_IN_PLACE</c> is <c>(void*)1</c>.
/// MPI is initialised with <c>MPI_THREAD_SERIALIZED</c>: collectives may come from any thread, one at a time.
/// One per process: MPI cannot be initialised again after <see cref="Dispose"/> (MPI_Finalize).
/// </summary>
public sealed class OpenMpi : ICommunicator
{
    const string Lib = "libmpi.so.40";
    const int ThreadSerialized = 2, Success = 0;
    static readonly IntPtr InPlace = 1;
    static readonly object Gate = new();
    static OpenMpi? current;

    readonly IntPtr world, mpiFloat, mpiDouble, mpiByte, opSum;
    bool disposed;

    OpenMpi()
    {
        IntPtr handle = LoadGlobal();
        IntPtr Symbol(string name) => NativeLibrary.TryGetExport(handle, name, out var p) ? p
            : throw new CommunicatorException($"{Lib} has no symbol {name}: it is not OpenMPI 4 or newer (MPICH and Intel MPI are not supported); install Debian's openmpi-bin and libopenmpi-dev");
        world = Symbol("ompi_mpi_comm_world");
        mpiFloat = Symbol("ompi_mpi_float");
        mpiDouble = Symbol("ompi_mpi_double");
        mpiByte = Symbol("ompi_mpi_byte");
        opSum = Symbol("ompi_mpi_op_sum");

        // OpenMPI's stack-trace handlers on SIGSEGV/SIGBUS would take the signals .NET turns into
        // NullReferenceException; the runtime's own handlers stay. (setenv: the C environment, which MPI_Init reads.)
        if (Environment.GetEnvironmentVariable("OMPI_MCA_opal_signal") is null) _ = SetEnv("OMPI_MCA_opal_signal", "", 0);
        Check(MPI_Initialized(out int already), "MPI_Initialized");
        if (already == 0)
        {
            Check(MPI_Init_thread(IntPtr.Zero, IntPtr.Zero, ThreadSerialized, out int provided), "MPI_Init_thread");
            if (provided < ThreadSerialized)
            {
                _ = MPI_Finalize();
                throw new CommunicatorException($"this OpenMPI provides thread level {provided}; Maskwork needs MPI_THREAD_SERIALIZED (2)");
            }
        }
        Check(MPI_Comm_rank(world, out int rank), "MPI_Comm_rank");
        Check(MPI_Comm_size(world, out int size), "MPI_Comm_size");
        Rank = rank;
        Size = size;
        LocalRank = EnvInt("OMPI_COMM_WORLD_LOCAL_RANK") ?? 0;
        LocalSize = EnvInt("OMPI_COMM_WORLD_LOCAL_SIZE") ?? 1;
    }

    /// <summary>Initialises MPI (once per process) and returns the world communicator.</summary>
    /// <exception cref="CommunicatorException">libmpi is missing or MPI did not initialise.</exception>
    public static OpenMpi Initialize()
    {
        lock (Gate)
        {
            if (current is { disposed: false }) return current;
            if (current is not null) throw new CommunicatorException("MPI was finalised in this process and cannot be initialised again");
            return current = new OpenMpi();
        }
    }

    /// <summary>True when <c>libmpi.so.40</c> can be loaded here.</summary>
    public static bool Available(out string detail)
    {
        try
        {
            LoadGlobal();
            detail = $"{Lib} loaded";
            return true;
        }
        catch (CommunicatorException e)
        {
            detail = e.Message;
            return false;
        }
    }

    static IntPtr LoadGlobal()
    {
        // RTLD_GLOBAL: OpenMPI's components (mca_*.so, opened by MPI_Init) resolve libmpi's symbols from the global scope.
        IntPtr h = DlOpen(Lib, RtldNow | RtldGlobal);
        if (h == IntPtr.Zero && NativeLibrary.TryLoad(Lib, out var fallback)) h = fallback;
        if (h == IntPtr.Zero)
            throw new CommunicatorException($"OpenMPI is not installed ({Lib} could not be loaded). Install it with `apt-get install openmpi-bin libopenmpi-dev` " +
                "and launch with `mpirun -np N maskwork pretrain ...`, or train in one process with --dist none.");
        return h;
    }

    public string Kind => "openmpi";
    public int Rank { get; }
    public int Size { get; }
    public int LocalRank { get; }
    public int LocalSize { get; }

    public void AllReduceSum(Span<float> buffer)
    {
        if (buffer.IsEmpty) return;
        Check(MPI_Allreduce(InPlace, ref MemoryMarshal.GetReference(buffer), buffer.Length, mpiFloat, opSum, world), "MPI_Allreduce");
    }

    public void AllReduceSum(Span<double> buffer)
    {
        if (buffer.IsEmpty) return;
        Check(MPI_Allreduce(InPlace, ref MemoryMarshal.GetReference(buffer), buffer.Length, mpiDouble, opSum, world), "MPI_Allreduce");
    }

    public void Broadcast(Span<byte> buffer, int root = 0)
    {
        if (root < 0 || root >= Size) throw new ArgumentOutOfRangeException(nameof(root), $"root {root} outside 0..{Size - 1}");
        if (buffer.IsEmpty) return;
        Check(MPI_Bcast(ref MemoryMarshal.GetReference(buffer), buffer.Length, mpiByte, root, world), "MPI_Bcast");
    }

    public void Barrier() => Check(MPI_Barrier(world), "MPI_Barrier");

    public void Abort(int code)
    {
        Console.Out.Flush();
        Console.Error.Flush();
        _ = MPI_Abort(world, code);
        Environment.Exit(code);
    }

    public void Dispose()
    {
        lock (Gate)
        {
            if (disposed) return;
            disposed = true;
            Check(MPI_Finalized(out int finalized), "MPI_Finalized");
            if (finalized == 0) _ = MPI_Finalize();
        }
    }

    static void Check(int code, string call)
    {
        if (code != Success) throw new CommunicatorException($"{call} failed with MPI error {code}");
    }

    static int? EnvInt(string name) => int.TryParse(Environment.GetEnvironmentVariable(name), out int v) ? v : null;

    const int RtldNow = 2, RtldGlobal = 0x100;

    [DllImport("libc", EntryPoint = "dlopen")] static extern IntPtr DlOpen(string file, int mode);
    [DllImport("libc", EntryPoint = "setenv")] static extern int SetEnv(string name, string value, int overwrite);

    [DllImport(Lib)] static extern int MPI_Initialized(out int flag);
    [DllImport(Lib)] static extern int MPI_Finalized(out int flag);
    [DllImport(Lib)] static extern int MPI_Init_thread(IntPtr argc, IntPtr argv, int required, out int provided);
    [DllImport(Lib)] static extern int MPI_Finalize();
    [DllImport(Lib)] static extern int MPI_Comm_rank(IntPtr comm, out int rank);
    [DllImport(Lib)] static extern int MPI_Comm_size(IntPtr comm, out int size);
    [DllImport(Lib)] static extern int MPI_Allreduce(IntPtr send, ref float receive, int count, IntPtr type, IntPtr op, IntPtr comm);
    [DllImport(Lib)] static extern int MPI_Allreduce(IntPtr send, ref double receive, int count, IntPtr type, IntPtr op, IntPtr comm);
    [DllImport(Lib)] static extern int MPI_Bcast(ref byte buffer, int count, IntPtr type, int root, IntPtr comm);
    [DllImport(Lib)] static extern int MPI_Barrier(IntPtr comm);
    [DllImport(Lib)] static extern int MPI_Abort(IntPtr comm, int code);
}
