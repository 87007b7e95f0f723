namespace NormSharp.Kernels;

/// <summary>
/// The one threading helper of the kernels: whether a loop pays for threads (a work threshold), and loops over
/// contiguous ranges or independent items that run in parallel when it does. Work is counted in scalar
/// multiply-adds; a kernel whose element costs more or less says so with a factor (<see cref="WorkPerNormalizedElement"/>,
/// GEMM's vector multiply-adds). Splits depend only on the counts and <see cref="Threads"/>, so a reduction done per
/// range and summed in range order is deterministic on a given machine. The loops run on <see cref="WorkerTeam"/>.
/// </summary>
internal static class Parallelism
{
    /// <summary>
    /// Threads the kernels use on this process: every processor, shared out among the processes of an MPI job on this
    /// node (MPICH's <c>MPI_LOCALNRANKS</c>), as torchrun sets <c>OMP_NUM_THREADS</c> for its processes. Two ranks on two
    /// cores, each with two threads that poll between loops (<see cref="WorkerTeam"/>), trained the demo CNN at 7.8-8.4 s
    /// an epoch, and at 6.4-6.8 s with one thread each (6.9-7.1 s in the same minutes with <c>Parallel.For</c>'s threads).
    /// </summary>
    public static int ProcessThreads { get; } = ThreadsPerProcess(Environment.ProcessorCount, Environment.GetEnvironmentVariable("MPI_LOCALNRANKS"));

    /// <summary>
    /// Threads the kernels called from this thread use: <see cref="ProcessThreads"/>, or the share of them given to
    /// this thread by <see cref="ShareThreads"/>.
    /// </summary>
    public static int Threads => threadShare > 0 ? threadShare : ProcessThreads;

    [ThreadStatic]
    private static int threadShare;

    /// <summary>
    /// Called on each of <paramref name="threads"/> threads that run kernels at the same time (the ranks of
    /// <see cref="Distributed.ProcessGroup.RunThreads"/>): its kernels then use its share of <see cref="ProcessThreads"/>,
    /// at least one. Two thread ranks on two cores trained the demo CNN at 4.5-5.5 s an epoch with one kernel thread
    /// each, 5.8-7.2 s with two each, and 4.2-5.4 s in the same minutes with <c>Parallel.For</c>'s threads.
    /// </summary>
    public static void ShareThreads(int threads) => threadShare = Math.Max(1, ProcessThreads / Math.Max(1, threads));

    /// <summary>Below about this much work in total, threading costs more than it saves.</summary>
    public const long MinParallelWork = 1L << 17;

    /// <summary>Work of one element of a normalization kernel: two reads, a reduction and a fused write.</summary>
    public const long WorkPerNormalizedElement = 4;

    /// <summary>Threads for <paramref name="totalWork"/>: all <see cref="Threads"/> (at most <paramref name="maxWorkers"/>) when it reaches <see cref="MinParallelWork"/>, else 1.</summary>
    public static int Workers(long totalWork, int maxWorkers = int.MaxValue) =>
        totalWork >= MinParallelWork ? Math.Clamp(maxWorkers, 1, Threads) : 1;

    /// <summary>
    /// <paramref name="processors"/> shared out among <paramref name="localRanks"/> processes (the environment variable's
    /// text; unset or unreadable: one process), at least one thread each.
    /// </summary>
    internal static int ThreadsPerProcess(int processors, string? localRanks) =>
        int.TryParse(localRanks, out int ranks) && ranks > 1 ? Math.Max(1, processors / ranks) : processors;

    /// <summary>The threads <see cref="For"/> uses for <paramref name="count"/> items of <paramref name="workPerItem"/> each (one, or up to <see cref="Threads"/>).</summary>
    public static int RangeCount(int count, long workPerItem) =>
        count <= 1 ? Math.Min(count, 1) : Math.Min(count, Workers(workPerItem * count));

    /// <summary>Items [start, end) of range <paramref name="range"/> out of <paramref name="ranges"/> equal ranges of <paramref name="count"/>.</summary>
    public static (int Start, int End) Range(int range, int ranges, int count) =>
        ((int)((long)count * range / ranges), (int)((long)count * (range + 1) / ranges));

    /// <summary>
    /// Ranges for <paramref name="count"/> items on <paramref name="threads"/> threads, so that a core slowed by a
    /// neighbour (a shared VM) takes fewer: up to <paramref name="perThread"/> (default <see cref="RangesPerThread"/>) a
    /// thread, handed out by <see cref="ForRanges"/> as threads come free; one range on one thread.
    /// </summary>
    public static int BalancedRanges(int count, int threads, int perThread = RangesPerThread) =>
        threads > 1 ? Math.Min(count, perThread * threads) : threads;

    /// <summary>
    /// Ranges a thread for kernels whose items are uneven or whose threads may run at uneven speed: a convolution
    /// forward (128x32x16x16 -> 32) took 4.6-6.1 ms with four against 5.9-6.8 ms with one, same process. With six,
    /// shrinking (<see cref="ShrinkingRange"/>), a ResNet-20 step (batch 128) took 292-316 ms against 298-330 ms with
    /// four equal ones, alternating in one process on the 2-vCPU VM (the same in its quiet minutes, 3-5% faster in busy ones).
    /// </summary>
    public const int RangesPerThread = 6;

    /// <summary>
    /// Each of <see cref="ShrinkingRange"/>'s ranges holds this fraction of the items of the range before it. Against
    /// equal ranges, in a ResNet-20 step: 0.7 and 0.6 were as fast or faster, 0.45 (a first range of over half the items)
    /// 3.5% slower.
    /// </summary>
    private const double ShrinkRatio = 0.7;

    /// <summary>
    /// Items [start, end) of range <paramref name="range"/> out of <paramref name="ranges"/> ranges of
    /// <paramref name="count"/>, each about <see cref="ShrinkRatio"/> times the one before: handed out in order as
    /// threads come free, the large ones go first and the last are small, so a thread slowed by a neighbour (a shared VM)
    /// keeps the others waiting at most for a small range at the end of the loop, where equal ranges (a half or an
    /// eighth of the items) left a thread idle for up to that long. No range is empty unless there are fewer items than ranges.
    /// </summary>
    public static (int Start, int End) ShrinkingRange(int range, int ranges, int count) =>
        (ShrinkingBoundary(range, ranges, count), ShrinkingBoundary(range + 1, ranges, count));

    // The items before range r: count · (1 − q^r) / (1 − q^ranges), the sum of the first r terms of the geometric series,
    // rounded, and with at least one item a range where there are as many items as ranges.
    private static int ShrinkingBoundary(int r, int ranges, int count)
    {
        if (r >= ranges)
        {
            return count;
        }
        double all = 1;   // q^ranges, by multiplication: a loop runs this for every range
        for (int k = 0; k < ranges; k++)
        {
            all *= ShrinkRatio;
        }
        double scale = count / (1 - all), power = 1;
        int boundary = 0;
        for (int k = 1; k <= r; k++)
        {
            power *= ShrinkRatio;
            int next = (int)Math.Round(scale * (1 - power));
            boundary = count >= ranges ? Math.Min(count - (ranges - k), Math.Max(boundary + 1, next)) : next;
        }
        return boundary;
    }

    /// <summary>
    /// Calls <paramref name="body"/>(rangeIndex, start, end) over [0, count): on <see cref="RangeCount"/> threads, in
    /// <see cref="BalancedRanges"/> shrinking ranges. Against one equal range a thread, alternating in one process:
    /// <c>(x * g).Sum().Backward()</c> on (32,64,56,56) 1.8-2.9% faster in five runs of five, a ResNet-20 step 0.7-6%.
    /// </summary>
    public static void For(int count, long workPerItem, Action<int, int, int> body) =>
        ForRanges(count, BalancedRanges(count, RangeCount(count, workPerItem)), body);

    /// <summary>
    /// Calls <paramref name="body"/>(rangeIndex, start, end) for <paramref name="ranges"/> ranges covering [0, count):
    /// equal ones (<see cref="Range"/>) for at most one range a thread, else shrinking ones (<see cref="ShrinkingRange"/>).
    /// </summary>
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
        // More ranges than threads (BalancedRanges): handed out as threads come free, so they may shrink.
        bool shrinking = ranges > Threads;
        WorkerTeam.For(ranges, r =>
        {
            var (start, end) = shrinking ? ShrinkingRange(r, ranges, count) : Range(r, ranges, count);
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
