using System.Diagnostics;

namespace NormSharp.Distributed;

/// <summary>
/// The meeting point of the thread ranks of one <see cref="ProcessGroup.RunThreads"/> call: each collective is two
/// rendezvous, one after every rank has published its payload (then each rank reads all payloads) and one after every
/// rank has read them (then the slots may be reused). Waits check for a failed group, for a rank that has returned
/// (it will never arrive) and for the timeout, so that no rank waits forever.
/// </summary>
internal sealed class ThreadRendezvous
{
    private readonly object gate = new();
    private readonly int worldSize;
    private readonly TimeSpan timeout;
    private readonly Array?[] payloads;
    private readonly string?[] operations;
    private readonly bool[] arrivedRanks;
    private int arrived;
    private long generation;
    private int finishedRank = -1;
    private RankFailedException? failure;

    private ThreadRendezvous(int worldSize, TimeSpan timeout)
    {
        this.worldSize = worldSize;
        this.timeout = timeout;
        payloads = new Array?[worldSize];
        operations = new string?[worldSize];
        arrivedRanks = new bool[worldSize];
    }

    /// <summary>Runs <paramref name="body"/> on <paramref name="worldSize"/> threads; see <see cref="ProcessGroup.RunThreads"/>.</summary>
    public static void Run(int worldSize, Action<ProcessGroup> body, TimeSpan timeout)
    {
        var rendezvous = new ThreadRendezvous(worldSize, timeout);
        var threads = new Thread[worldSize];
        for (int rank = 0; rank < worldSize; rank++)
        {
            var group = new ThreadProcessGroup(rendezvous, rank, worldSize, timeout);
            threads[rank] = new Thread(() =>
            {
                Kernels.Parallelism.ShareThreads(worldSize);   // the ranks' kernels share the cores instead of contending
                try
                {
                    body(group);
                    rendezvous.Finish(group.Rank);
                }
#pragma warning disable CA1031 // any exception of a rank is reported to the caller of RunThreads and fails the other ranks
                catch (Exception error)
#pragma warning restore CA1031
                {
                    rendezvous.Fail(group.Rank, error);
                }
            })
            {
                IsBackground = true,
                Name = $"NormSharp rank {rank} of {worldSize}",
            };
        }
        foreach (var thread in threads)
        {
            thread.Start();
        }
        foreach (var thread in threads)
        {
            thread.Join();
        }
        if (rendezvous.failure is { } failed)
        {
            throw new RankFailedException(failed.Rank, failed.Message, failed.InnerException);
        }
    }

    /// <summary>
    /// Publishes <paramref name="payload"/> (copied) as <paramref name="rank"/>'s part of <paramref name="operation"/> and
    /// returns every rank's payload once all have arrived; call <see cref="Release"/> after reading them.
    /// </summary>
    /// <exception cref="InvalidOperationException">The ranks called different collectives or lengths (on every rank).</exception>
    public Array?[] Exchange<T>(int rank, string operation, ReadOnlySpan<T> payload)
    {
        lock (gate)
        {
            ThrowIfFailed(rank);
            payloads[rank] = payload.ToArray();
            operations[rank] = operation;
            Arrive(rank, operation);
            for (int other = 0; other < worldSize; other++)
            {
                if (operations[other] != operation)
                {
                    var calls = string.Join("; ", operations.Select((o, r) => $"rank {r}: {o}"));
                    var error = new InvalidOperationException(
                        $"The ranks called different collectives, which would deadlock or mix data on MPI ({calls}); every rank must call the same collectives in the same order with the same lengths.");
                    FailLocked(rank, error);
                    throw error;
                }
            }
            return payloads;
        }
    }

    /// <summary>The second rendezvous of a collective: returns once every rank has read the payloads.</summary>
    public void Release(int rank, string operation)
    {
        lock (gate)
        {
            Arrive(rank, operation);
        }
    }

    /// <summary>Marks the group failed because <paramref name="rank"/> threw <paramref name="error"/> (the first failure wins).</summary>
    public void Fail(int rank, Exception error)
    {
        lock (gate)
        {
            FailLocked(rank, error);
        }
    }

    public void Finish(int rank)
    {
        lock (gate)
        {
            if (finishedRank < 0)
            {
                finishedRank = rank;
            }
            Monitor.PulseAll(gate);
        }
    }

    private void FailLocked(int rank, Exception error)
    {
        if (failure is null)
        {
            failure = error as RankFailedException ?? new RankFailedException(
                rank, $"Rank {rank} of {worldSize} failed: {error.GetType().Name}: {error.Message}", error);
            Monitor.PulseAll(gate);
        }
    }

    private void ThrowIfFailed(int rank)
    {
        if (failure is not null)
        {
            throw new RankFailedException(failure.Rank, $"Rank {rank} stopped: {failure.Message}", failure.InnerException);
        }
    }

    /// <summary>Counts this rank in and waits (holding <see cref="gate"/> between waits) until every rank has arrived.</summary>
    private void Arrive(int rank, string operation)
    {
        long myGeneration = generation;
        arrivedRanks[rank] = true;
        if (++arrived == worldSize)
        {
            arrived = 0;
            Array.Clear(arrivedRanks);
            generation++;
            Monitor.PulseAll(gate);
            return;
        }
        long deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (generation == myGeneration)
        {
            ThrowIfFailed(rank);
            if (finishedRank >= 0)
            {
                var error = new TimeoutException(
                    $"Rank {finishedRank} returned while rank {rank} waits for it in {operation}: every rank must call the same collectives.");
                FailLocked(finishedRank, error);
                ThrowIfFailed(rank);
            }
            long remaining = deadline - Stopwatch.GetTimestamp();
            if (remaining <= 0)
            {
                var missing = string.Join(", ", Enumerable.Range(0, worldSize).Where(r => !arrivedRanks[r]));
                var error = new TimeoutException(
                    $"Rank {rank} waited {timeout.TotalSeconds:0.###} s in {operation} for rank(s) {missing} (the group's timeout).");
                FailLocked(rank, error);
                ThrowIfFailed(rank);
            }
            Monitor.Wait(gate, TimeSpan.FromSeconds(Math.Min((double)remaining / Stopwatch.Frequency, 1.0)));
        }
    }
}
