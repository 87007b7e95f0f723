using System.Numerics;

namespace NormSharp.Distributed;

/// <summary>
/// A group of ranks that run the same program on different data and meet in collective operations (PyTorch's
/// <c>torch.distributed</c> process group): all-reduce, all-gather, broadcast and barrier on float or double data.
/// </summary>
/// <remarks>
/// <para>Two backends: <see cref="RunThreads"/> runs the ranks as threads of this process (one many-core machine, and
/// tests); <see cref="Mpi"/> joins the ranks of an MPI job started by <c>mpiexec</c> (MPICH, through P/Invoke, loaded only
/// when called). Nothing else of the library touches MPI.</para>
/// <para>Every rank must call the same collectives in the same order with the same lengths (as in MPI and PyTorch). A
/// collective returns on each rank once every rank has called it, with the same result everywhere: sums are formed in
/// rank order on the thread backend, so they are bit-identical across ranks and runs.</para>
/// <para>Failure: no collective waits forever. A rank that throws makes the collectives of the others throw
/// <see cref="RankFailedException"/> at once (threads) or ends the whole job through <c>MPI_Abort</c> (MPI); a collective
/// that waits longer than <see cref="Timeout"/> (default 5 minutes) fails the group the same way.</para>
/// </remarks>
public abstract class ProcessGroup : IDisposable
{
    /// <summary>The default for <see cref="Timeout"/>: 5 minutes.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(5);

    private protected ProcessGroup(TimeSpan timeout)
    {
        if (timeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "The collective timeout must be positive.");
        }
        Timeout = timeout;
    }

    /// <summary>This rank's index, 0 ≤ Rank &lt; <see cref="WorldSize"/>.</summary>
    public abstract int Rank { get; }

    /// <summary>The number of ranks.</summary>
    public abstract int WorldSize { get; }

    /// <summary>"threads" or "mpi".</summary>
    public abstract string Backend { get; }

    /// <summary>How long one collective waits for the other ranks before it fails the group.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>Bytes this rank has passed to <c>AllReduce</c> so far (its payload, not the wire traffic of the algorithm).</summary>
    public long AllReduceBytes { get; private set; }

    /// <summary>Bytes this rank has passed to <c>AllGather</c> (its own contribution) and <c>Broadcast</c> so far.</summary>
    public long OtherCollectiveBytes { get; private set; }

    /// <summary>
    /// Runs <paramref name="body"/> once per rank, each on its own thread with its own group of
    /// <paramref name="worldSize"/> thread ranks, and returns when all have returned.
    /// </summary>
    /// <param name="worldSize">The number of ranks, ≥ 1.</param>
    /// <param name="body">The program of one rank.</param>
    /// <param name="timeout">How long a collective waits for the other ranks; default <see cref="DefaultTimeout"/>.</param>
    /// <exception cref="RankFailedException">A rank threw (its exception is the inner one), a rank returned while others
    /// waited for it in a collective, or a collective timed out. Every other rank's pending and later collectives throw
    /// as well, so no rank hangs.</exception>
    public static void RunThreads(int worldSize, Action<ProcessGroup> body, TimeSpan? timeout = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(worldSize, 1);
        ArgumentNullException.ThrowIfNull(body);
        ThreadRendezvous.Run(worldSize, body, timeout ?? DefaultTimeout);
    }

    /// <summary>
    /// The group of all ranks of the MPI job this process belongs to (<c>MPI_COMM_WORLD</c>), initializing MPI on the first
    /// call; start the processes with <c>mpiexec -n N</c> (MPICH). A process started without mpiexec is a group of one.
    /// </summary>
    /// <remarks>Loads MPICH's <c>libmpich.so.12</c> (Debian package <c>libmpich12</c>, installed with <c>mpich</c>) at run
    /// time, or the library named by the environment variable <c>NORMSHARP_MPI_LIBRARY</c>. Dispose the group at the end
    /// (it finalizes MPI); a process that exits without doing so finalizes on exit, and an unhandled exception aborts the
    /// whole job (<c>MPI_Abort</c>) so that no rank waits for it.</remarks>
    /// <param name="timeout">How long a collective waits before it aborts the job; default <see cref="DefaultTimeout"/>.</param>
    /// <exception cref="DllNotFoundException">No MPICH library was found; the message names the package to install.</exception>
    public static ProcessGroup Mpi(TimeSpan? timeout = null) => MpiProcessGroup.World(timeout ?? DefaultTimeout);

    /// <summary>
    /// Combines <paramref name="data"/> element by element over all ranks (sum or mean) and writes the result to
    /// <paramref name="data"/> on every rank. Every rank passes the same length.
    /// </summary>
    public void AllReduce(Span<float> data, ReduceOp op)
    {
        AllReduceBytes += (long)data.Length * sizeof(float);
        AllReduceCore(data, op);
    }

    /// <summary><see cref="AllReduce(Span{float}, ReduceOp)"/> on double data.</summary>
    public void AllReduce(Span<double> data, ReduceOp op)
    {
        AllReduceBytes += (long)data.Length * sizeof(double);
        AllReduceCore(data, op);
    }

    /// <summary>
    /// Concatenates every rank's <paramref name="mine"/> in rank order into <paramref name="all"/> on every rank:
    /// all[r · n + i] = mine_r[i], n = mine.Length (the same on every rank).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="all"/> is not WorldSize · mine.Length long.</exception>
    public void AllGather(ReadOnlySpan<float> mine, Span<float> all)
    {
        CheckGather(mine.Length, all.Length);
        OtherCollectiveBytes += (long)mine.Length * sizeof(float);
        AllGatherCore(mine, all);
    }

    /// <summary><see cref="AllGather(ReadOnlySpan{float}, Span{float})"/> on double data.</summary>
    public void AllGather(ReadOnlySpan<double> mine, Span<double> all)
    {
        CheckGather(mine.Length, all.Length);
        OtherCollectiveBytes += (long)mine.Length * sizeof(double);
        AllGatherCore(mine, all);
    }

    /// <summary>Copies <paramref name="data"/> of rank <paramref name="root"/> into <paramref name="data"/> on every rank.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="root"/> is not a rank.</exception>
    public void Broadcast(Span<float> data, int root)
    {
        CheckRoot(root);
        OtherCollectiveBytes += (long)data.Length * sizeof(float);
        BroadcastCore(data, root);
    }

    /// <summary><see cref="Broadcast(Span{float}, int)"/> on double data.</summary>
    public void Broadcast(Span<double> data, int root)
    {
        CheckRoot(root);
        OtherCollectiveBytes += (long)data.Length * sizeof(double);
        BroadcastCore(data, root);
    }

    /// <summary>Returns once every rank has called it.</summary>
    public abstract void Barrier();

    /// <summary>
    /// Fails the whole group because of <paramref name="error"/> on this rank: the other ranks' collectives throw
    /// (threads) or every process of the job ends with a non-zero exit code (MPI, through <c>MPI_Abort</c>; this method
    /// does not return then). For code that catches an exception and would otherwise leave the other ranks waiting.
    /// </summary>
    public abstract void Abort(Exception error);

    /// <inheritdoc/>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the backend (MPI: finalizes MPI once every rank has arrived).</summary>
    protected virtual void Dispose(bool disposing)
    {
    }

    private protected abstract void AllReduceCore<T>(Span<T> data, ReduceOp op)
        where T : unmanaged, IFloatingPointIeee754<T>;

    private protected abstract void AllGatherCore<T>(ReadOnlySpan<T> mine, Span<T> all)
        where T : unmanaged, IFloatingPointIeee754<T>;

    private protected abstract void BroadcastCore<T>(Span<T> data, int root)
        where T : unmanaged, IFloatingPointIeee754<T>;

    private void CheckGather(int mine, int all)
    {
        if (all != (long)mine * WorldSize)
        {
            throw new ArgumentException(
                $"AllGather needs a destination of WorldSize · mine.Length = {WorldSize} · {mine} = {(long)mine * WorldSize} elements, got {all}.", nameof(all));
        }
    }

    private void CheckRoot(int root)
    {
        if (root < 0 || root >= WorldSize)
        {
            throw new ArgumentOutOfRangeException(nameof(root), root, $"Broadcast root must be a rank in [0, {WorldSize - 1}].");
        }
    }
}
