namespace NormSharp.Distributed;

/// <summary>
/// A rank of a <see cref="ProcessGroup"/> failed, so the collective operations of every other rank fail too instead of
/// waiting for it: thrown by <see cref="ProcessGroup.RunThreads"/> (with the failing rank's exception inside) and by the
/// collectives of the ranks that were waiting. A rank that stops taking part without failing (it returned, or waits
/// longer than the group's timeout) is reported the same way, with a <see cref="TimeoutException"/> inside.
/// </summary>
public sealed class RankFailedException : Exception
{
    /// <summary>Creates the exception for <paramref name="rank"/>.</summary>
    public RankFailedException(int rank, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Rank = rank;
    }

    /// <summary>Creates the exception with a message only (rank −1: unknown).</summary>
    public RankFailedException() : this(-1, "A rank of the process group failed.")
    {
    }

    /// <summary>Creates the exception with a message only (rank −1: unknown).</summary>
    public RankFailedException(string message) : this(-1, message)
    {
    }

    /// <summary>Creates the exception with a message and a cause (rank −1: unknown).</summary>
    public RankFailedException(string message, Exception innerException) : this(-1, message, innerException)
    {
    }

    /// <summary>The rank that failed first, or −1 when unknown.</summary>
    public int Rank { get; }
}
