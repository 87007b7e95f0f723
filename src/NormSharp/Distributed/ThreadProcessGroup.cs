using System.Numerics;

namespace NormSharp.Distributed;

/// <summary>
/// One rank of <see cref="ProcessGroup.RunThreads"/>: collectives through shared memory (<see cref="ThreadRendezvous"/>).
/// Reductions add the ranks' payloads in rank order on every rank, so every rank gets the same bits.
/// </summary>
internal sealed class ThreadProcessGroup(ThreadRendezvous rendezvous, int rank, int worldSize, TimeSpan timeout)
    : ProcessGroup(timeout)
{
    public override int Rank => rank;

    public override int WorldSize => worldSize;

    public override string Backend => "threads";

    public override void Barrier()
    {
        const string operation = "Barrier";
        rendezvous.Exchange<float>(rank, operation, []);
        rendezvous.Release(rank, operation);
    }

    public override void Abort(Exception error) => rendezvous.Fail(rank, error);

    private protected override void AllReduceCore<T>(Span<T> data, ReduceOp op)
    {
        string operation = $"AllReduce({typeof(T).Name} × {data.Length}, {op})";
        var payloads = rendezvous.Exchange<T>(rank, operation, data);
        ((T[])payloads[0]!).CopyTo(data);
        for (int other = 1; other < worldSize; other++)
        {
            var values = (T[])payloads[other]!;
            for (int i = 0; i < data.Length; i++)
            {
                data[i] += values[i];
            }
        }
        rendezvous.Release(rank, operation);
        if (op == ReduceOp.Mean)
        {
            var size = T.CreateTruncating(worldSize);
            for (int i = 0; i < data.Length; i++)
            {
                data[i] /= size;
            }
        }
    }

    private protected override void AllGatherCore<T>(ReadOnlySpan<T> mine, Span<T> all)
    {
        string operation = $"AllGather({typeof(T).Name} × {mine.Length})";
        var payloads = rendezvous.Exchange(rank, operation, mine);
        for (int other = 0; other < worldSize; other++)
        {
            ((T[])payloads[other]!).CopyTo(all.Slice(other * mine.Length, mine.Length));
        }
        rendezvous.Release(rank, operation);
    }

    private protected override void BroadcastCore<T>(Span<T> data, int root)
    {
        string operation = $"Broadcast({typeof(T).Name} × {data.Length}, root {root})";
        // Only the root's payload is read; the others publish nothing but must agree on the operation.
        var payloads = rendezvous.Exchange<T>(rank, operation, rank == root ? data : []);
        if (rank != root)
        {
            ((T[])payloads[root]!).CopyTo(data);
        }
        rendezvous.Release(rank, operation);
    }
}
