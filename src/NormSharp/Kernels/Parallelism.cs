namespace NormSharp.Kernels;

/// <summary>
/// The one threading helper of the kernels: whether a loop pays for threads (a work threshold), and loops over
/// contiguous ranges or independent items that run in parallel when it does. Work is counted in scalar
/// multiply-adds; a kernel whose element costs more or less says so with a factor (<see cref="WorkPerNormalizedElement"/>,
/// GEMM's vector multiply-adds). Splits depend only on the counts and the processor count, so a reduction done per
/// range and summed in range order is deterministic on a given machine. The loops run on <see cref="WorkerTeam"/>.
/// </summary>
internal static class Parallelism
{
    /// <summary>Below about this much work in total, threading costs more than it saves.</summary>
    public const long MinParallelWork = 1L << 17;

    /// <summary>Work of one element of a normalization kernel: two reads, a reduction and a fused write.</summary>
    public const long WorkPerNormalizedElement = 4;

    /// <summary>Threads for <paramref name="totalWork"/>: all processors (at most <paramref name="maxWorkers"/>) when it reaches <see cref="MinParallelWork"/>, else 1.</summary>
    public static int Workers(long totalWork, int maxWorkers = int.MaxValue) =>
        totalWork >= MinParallelWork ? Math.Clamp(maxWorkers, 1, Environment.ProcessorCount) : 1;

    /// <summary>The number of ranges <see cref="For"/> will use for <paramref name="count"/> items of <paramref name="workPerItem"/> each.</summary>
    public static int RangeCount(int count, long workPerItem) =>
        count <= 1 ? Math.Min(count, 1) : Math.Min(count, Workers(workPerItem * count));

    /// <summary>Items [start, end) of range <paramref name="range"/> out of <paramref name="ranges"/> equal ranges of <paramref name="count"/>.</summary>
    public static (int Start, int End) Range(int range, int ranges, int count) =>
        ((int)((long)count * range / ranges), (int)((long)count * (range + 1) / ranges));

    /// <summary>Calls <paramref name="body"/>(rangeIndex, start, end) for each of <see cref="RangeCount"/> ranges covering [0, count).</summary>
    public static void For(int count, long workPerItem, Action<int, int, int> body) =>
        ForRanges(count, RangeCount(count, workPerItem), body);

    /// <summary>Calls <paramref name="body"/>(rangeIndex, start, end) for <paramref name="ranges"/> equal ranges covering [0, count).</summary>
    public static void ForRanges(int count, int ranges, Action<int, int, int> body)
    {
        if (ranges <= 1)
        {
            if (count > 0)
            {
                body(0, 0, count);
            }
            return;
        }
        WorkerTeam.For(ranges, r =>
        {
            var (start, end) = Range(r, ranges, count);
            body(r, start, end);
        });
    }

    /// <summary>
    /// Calls <paramref name="body"/>(item) for every item in [0, count): in order on this thread when
    /// <paramref name="workers"/> is 1, else in parallel, items handed out one by one (for items of uneven cost).
    /// </summary>
    public static void ForEach(int count, int workers, Action<int> body)
    {
        if (workers <= 1 || count <= 1)
        {
            for (int i = 0; i < count; i++)
            {
                body(i);
            }
            return;
        }
        WorkerTeam.For(count, body);
    }
}
