namespace NormSharp.Kernels;

/// <summary>
/// Splits a loop over independent items (samples of a batch, planes of a feature map) into contiguous
/// ranges and runs them in parallel when the total work pays for the threads. The split depends only on
/// the item count, the work estimate and the processor count, so a reduction done per range and summed in
/// range order is deterministic on a given machine.
/// </summary>
internal static class Parallelism
{
    /// <summary>Below about this many multiply-adds in total, threading costs more than it saves.</summary>
    public const long MinParallelWork = 1L << 17;

    /// <summary>The number of ranges <see cref="For"/> will use for <paramref name="count"/> items of <paramref name="workPerItem"/> each.</summary>
    public static int RangeCount(int count, long workPerItem)
    {
        if (count <= 1 || workPerItem * count < MinParallelWork)
        {
            return Math.Min(count, 1);
        }
        return Math.Min(count, Environment.ProcessorCount);
    }

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
        Parallel.For(0, ranges, r =>
        {
            var (start, end) = Range(r, ranges, count);
            body(r, start, end);
        });
    }
}
