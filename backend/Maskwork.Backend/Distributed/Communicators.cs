namespace Maskwork.Backend.Distributed;

/// <summary>
/// Picks the communicator for <c>--dist mpi|none|auto</c>. <c>auto</c> (the default) means OpenMPI when
/// the process was started by <c>mpirun</c> (its <c>OMPI_COMM_WORLD_*</c> variables are set), so
/// <c>mpirun -np N maskwork pretrain ...</c> needs no flag; <c>none</c> under an N-rank mpirun is refused,
/// so N ranks never train N separate copies into one run folder.
/// </summary>
public static class Communicators
{
    /// <summary>The world size mpirun announced to this process, or null when it was not started by mpirun.</summary>
    public static int? LaunchedWorldSize =>
        int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE"), out int n) && n > 0 ? n : null;

    /// <summary>The rank mpirun announced, or null.</summary>
    public static int? LaunchedRank =>
        int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_RANK"), out int r) && r >= 0 ? r : null;

    /// <summary>Ranks mpirun started on this machine (they share its cores), 1 outside mpirun.</summary>
    public static int LaunchedLocalSize =>
        int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_LOCAL_SIZE"), out int n) && n > 0 ? n : 1;

    /// <summary>Resolves <paramref name="choice"/> (mpi, none, auto).</summary>
    /// <exception cref="ArgumentException">An unknown choice, or <c>none</c> inside a multi-rank mpirun.</exception>
    /// <exception cref="CommunicatorException">OpenMPI is needed but missing or did not start.</exception>
    public static ICommunicator Create(string choice)
    {
        switch (choice.ToLowerInvariant())
        {
            case "none":
                if (LaunchedWorldSize is > 1 and var n)
                    throw new ArgumentException($"--dist none inside an mpirun of {n} ranks: every rank would train its own copy into the same run folder. " +
                        "Drop --dist (auto uses MPI under mpirun) or launch without mpirun.");
                return SingleProcess.Instance;
            case "auto":
                return LaunchedWorldSize is null ? SingleProcess.Instance : OpenMpi.Initialize();
            case "mpi":
                return OpenMpi.Initialize();
            default:
                throw new ArgumentException($"unknown --dist '{choice}': use mpi, none or auto");
        }
    }
}
