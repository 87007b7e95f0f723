using System.Diagnostics;
using System.Runtime.InteropServices;

namespace NormSharp.Distributed;

/// <summary>
/// The ranks of an MPI job (<c>MPI_COMM_WORLD</c>), through MPICH's C API (<see cref="MpiLibrary"/>). Each collective is
/// MPI's non-blocking form, polled until done or until <see cref="ProcessGroup.Timeout"/> (then the job is aborted):
/// a blocking MPI call cannot time out, and the polling yields the core to the other ranks when they share it.
/// </summary>
/// <remarks>
/// Guards against MPI's silent failures: an unhandled exception aborts the job with <c>MPI_Abort</c> (the other ranks
/// would otherwise wait in their next collective); a process that exits without <see cref="ProcessGroup.Dispose()"/>
/// still finalizes on exit (a rank that exits without <c>MPI_Finalize</c> can make MPICH end the whole job with exit
/// code 0). Finalizing first waits for every rank at a barrier with the timeout, so a rank leaving early does not hang.
/// </remarks>
internal sealed unsafe class MpiProcessGroup : ProcessGroup
{
    private static readonly Lock InitializationLock = new();
    private static MpiProcessGroup? world;

    private readonly MpiLibrary mpi;
    private readonly Lock callLock = new();
    private bool finalized;

    private MpiProcessGroup(MpiLibrary mpi, int rank, int worldSize, TimeSpan timeout)
        : base(timeout)
    {
        this.mpi = mpi;
        Rank = rank;
        WorldSize = worldSize;
    }

    public override int Rank { get; }

    public override int WorldSize { get; }

    public override string Backend => "mpi";

    /// <summary>The world group, initializing MPI on the first call (later calls return the same group).</summary>
    public static MpiProcessGroup World(TimeSpan timeout)
    {
        lock (InitializationLock)
        {
            if (world is { finalized: false })
            {
                return world;
            }
            if (world is not null)
            {
                throw new InvalidOperationException("MPI was finalized when the process group was disposed; MPI cannot be initialized twice in one process.");
            }
            var mpi = MpiLibrary.Load();
            string version = mpi.Version();
            if (!version.Contains("MPICH", StringComparison.OrdinalIgnoreCase) && !version.Contains("Intel", StringComparison.OrdinalIgnoreCase))
            {
                throw new NotSupportedException(
                    $"{mpi.Path} is not MPICH or an MPICH-ABI library (it reports \"{version.Split('\n')[0]}\"); NormSharp calls MPICH's ABI. Install Debian's mpich or set {MpiLibrary.LibraryVariable}.");
            }
            int initialized, provided, rank, size;
            mpi.Check(mpi.Initialized(&initialized), "MPI_Initialized");
            if (initialized == 0)
            {
                // Serialized: calls may come from any thread, one at a time (callLock), e.g. the exit handler.
                mpi.Check(mpi.InitThread(null, null, MpiLibrary.ThreadSerialized, &provided), "MPI_Init_thread");
            }
            mpi.Check(mpi.CommRank(MpiLibrary.CommWorld, &rank), "MPI_Comm_rank");
            mpi.Check(mpi.CommSize(MpiLibrary.CommWorld, &size), "MPI_Comm_size");
            var group = new MpiProcessGroup(mpi, rank, size, timeout);
            AppDomain.CurrentDomain.UnhandledException += (_, e) =>
                group.Abort(e.ExceptionObject as Exception ?? new InvalidOperationException("Unhandled non-exception object."));
            AppDomain.CurrentDomain.ProcessExit += (_, _) => group.Dispose();
            world = group;
            return group;
        }
    }

    public override void Barrier()
    {
        int request;
        lock (callLock)
        {
            mpi.Check(mpi.Ibarrier(MpiLibrary.CommWorld, &request), "MPI_Ibarrier");
            Wait(&request, "Barrier");
        }
    }

    /// <summary>How long a failing rank waits between writing its error and aborting the job.</summary>
    private static readonly TimeSpan AbortGrace = TimeSpan.FromMilliseconds(500);

    public override void Abort(Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        Console.Error.WriteLine($"normsharp: rank {Rank} of {WorldSize} failed, aborting every rank (MPI_Abort): {error.GetType().Name}: {error.Message}");
        Console.Error.Flush();
        // mpiexec (MPICH's hydra) forwards a rank's output on its own schedule, while MPI_Abort ends the job at once: the
        // line above was lost in 2 of 30 aborted jobs on a loaded 2-core machine. A moment's grace lets it through.
        Thread.Sleep(AbortGrace);
        finalized = true;   // the exit handler must not wait for the other ranks at the finalize barrier
        // Not under callLock: the failing thread may be the one polling a collective.
        mpi.AbortMpi(MpiLibrary.CommWorld, 1);
        Environment.Exit(1);
    }

    protected override void Dispose(bool disposing)
    {
        lock (callLock)
        {
            if (finalized)
            {
                return;
            }
            finalized = true;
            int done;
            mpi.Check(mpi.Finalized(&done), "MPI_Finalized");
            if (done != 0)
            {
                return;
            }
            // Every rank arrives here before any finalizes; a rank stuck elsewhere ends the job after the timeout.
            int request;
            mpi.Check(mpi.Ibarrier(MpiLibrary.CommWorld, &request), "MPI_Ibarrier");
            Wait(&request, "Dispose (the barrier before MPI_Finalize)");
            mpi.Check(mpi.FinalizeMpi(), "MPI_Finalize");
        }
    }

    private protected override void AllReduceCore<T>(Span<T> data, ReduceOp op)
    {
        int request;
        lock (callLock)
        {
            ThrowIfFinalized();
            fixed (T* buffer = data)
            {
                mpi.Check(mpi.Iallreduce((void*)MpiLibrary.InPlace, buffer, data.Length, DataType<T>(), MpiLibrary.Sum, MpiLibrary.CommWorld, &request), "MPI_Iallreduce");
                Wait(&request, $"AllReduce({typeof(T).Name} × {data.Length})");
            }
        }
        if (op == ReduceOp.Mean)
        {
            var size = T.CreateTruncating(WorldSize);
            for (int i = 0; i < data.Length; i++)
            {
                data[i] /= size;
            }
        }
    }

    private protected override void AllGatherCore<T>(ReadOnlySpan<T> mine, Span<T> all)
    {
        int request;
        lock (callLock)
        {
            ThrowIfFinalized();
            fixed (T* send = mine, receive = all)
            {
                mpi.Check(mpi.Iallgather(send, mine.Length, DataType<T>(), receive, mine.Length, DataType<T>(), MpiLibrary.CommWorld, &request), "MPI_Iallgather");
                Wait(&request, $"AllGather({typeof(T).Name} × {mine.Length})");
            }
        }
    }

    private protected override void BroadcastCore<T>(Span<T> data, int root)
    {
        int request;
        lock (callLock)
        {
            ThrowIfFinalized();
            fixed (T* buffer = data)
            {
                mpi.Check(mpi.Ibcast(buffer, data.Length, DataType<T>(), root, MpiLibrary.CommWorld, &request), "MPI_Ibcast");
                Wait(&request, $"Broadcast({typeof(T).Name} × {data.Length}, root {root})");
            }
        }
    }

    private static int DataType<T>() => typeof(T) == typeof(float) ? MpiLibrary.Float
        : typeof(T) == typeof(double) ? MpiLibrary.Double
        : throw new NotSupportedException($"The MPI backend reduces float and double, not {typeof(T).Name}.");

    private void ThrowIfFinalized()
    {
        if (finalized)
        {
            throw new ObjectDisposedException(nameof(ProcessGroup), "The MPI process group was disposed (MPI is finalized).");
        }
    }

    /// <summary>Polls <paramref name="request"/> until it completes; past the timeout, aborts the job.</summary>
    private void Wait(int* request, string operation)
    {
        long deadline = Stopwatch.GetTimestamp() + (long)(Timeout.TotalSeconds * Stopwatch.Frequency);
        var spinner = default(SpinWait);
        int complete = 0;
        while (true)
        {
            mpi.Check(mpi.Test(request, &complete, MpiLibrary.StatusIgnore), "MPI_Test");
            if (complete != 0)
            {
                return;
            }
            if (Stopwatch.GetTimestamp() > deadline)
            {
                Abort(new TimeoutException(
                    $"Rank {Rank} waited {Timeout.TotalSeconds:0.###} s in {operation}: another rank failed, stalled or called a different collective."));
            }
            // Spins briefly, then yields the core: oversubscribed ranks (more ranks than cores) need it to progress.
            spinner.SpinOnce(sleep1Threshold: 200);
        }
    }
}
