using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace NormSharp.Kernels;

/// <summary>
/// The threads that run the kernels' parallel loops (<see cref="Parallelism"/>): the calling thread and one worker
/// thread per further processor (<see cref="Parallelism.ProcessThreads"/>). After a loop the workers keep polling for
/// the next one for <see cref="SpinTime"/> before they block, as libtorch's OpenMP team does, so that in a training
/// step, where one parallel kernel follows another within microseconds, every loop starts on every core at once.
/// </summary>
/// <remarks>
/// <para>Why not <c>Parallel.For</c>: on the 2-vCPU VM this library is developed on, the second thread joined a 5-6 ms
/// convolution forward (64 channels, back to back) after a median of 46-379 µs and a 90th percentile of 2.2 ms (a
/// blocked pool thread waits for its idle vCPU to be woken), and the calling thread plus two pool threads, three
/// threads on two cores, time-sliced, so that a range took up to 5 ms instead of 1. With this team the worker joins
/// after a median of 3 µs (90th percentile 9-150 µs). In the bench's steps group, two alternating runs of each
/// build: geometric mean 1.18-1.25x libtorch → 1.32-1.36x, the CIFAR-shaped ResNet step 0.92-0.99x → 1.22-1.23x,
/// ResNet-20 1.04-1.07x → 1.18-1.22x.</para>
/// <para>One loop at a time: a loop started from a loop body runs on that body's thread alone, since the loop around it
/// occupies every processor; one started from another thread while the team is busy (the ranks of
/// <see cref="Distributed.ProcessGroup.RunThreads"/>) runs on the thread pool, with that thread's share of the
/// processors (<see cref="Parallelism.Threads"/>).</para>
/// </remarks>
internal static class WorkerTeam
{
    /// <summary>
    /// How long an idle worker polls for the next loop before it blocks. A ResNet-20 step (batch 128, about 330 loops)
    /// woke a blocked worker 15-30 times with 1 ms, 4-5 with 5 ms and 2-3 with 15 ms (libgomp's default spins about
    /// as long as the last); 5 ms keeps a core busy for a shorter while after the last loop of a burst.
    /// </summary>
    public static readonly TimeSpan SpinTime = TimeSpan.FromMilliseconds(5);

    private static readonly long SpinTicks = (long)(SpinTime.TotalSeconds * Stopwatch.Frequency);
    private static readonly SemaphoreSlim Wake = new(0);
    private static readonly object StartGate = new();
    private static Thread[]? workers;
    private static int busy;   // 1 while a loop runs
    private static Loop? current;   // the loop running, for the workers to join
    private static long generation;   // loops started so far: a worker that sees it change joins `current`
    private static int sleepers;   // workers blocked on Wake

    [ThreadStatic]
    private static bool inLoop;   // this thread runs a team loop's items: a loop it starts runs on it alone

    /// <summary>Worker threads besides the caller: one fewer than <see cref="Parallelism.ProcessThreads"/>.</summary>
    public static int WorkerCount { get; } = Parallelism.ProcessThreads - 1;

    /// <summary>
    /// Calls <paramref name="body"/>(item) for every item in [0, <paramref name="count"/>), handed out one by one to
    /// the caller and the workers; returns when all have run. The first exception a body throws is rethrown here,
    /// after the items already started have finished; items not yet started are skipped.
    /// </summary>
    public static void For(int count, Action<int> body)
    {
        if (count <= 0)
        {
            return;
        }
        if (WorkerCount == 0 || count == 1 || inLoop)
        {
            for (int i = 0; i < count; i++)
            {
                body(i);
            }
            return;
        }
        if (Interlocked.CompareExchange(ref busy, 1, 0) != 0)
        {
            RunOnThreadPool(count, body);
            return;
        }
        var loop = new Loop(count, body);
        try
        {
            Start();
            Volatile.Write(ref current, loop);
            Interlocked.Increment(ref generation);
            // A worker about to block re-reads `generation` after counting itself in `sleepers`: it sees this loop,
            // or this thread sees it in `sleepers` and wakes it (an extra wake-up only makes a worker poll once more).
            int blocked = Volatile.Read(ref sleepers);
            if (blocked > 0)
            {
                Wake.Release(blocked);
            }
            inLoop = true;
            loop.Run();
            loop.WaitUntilDone();
        }
        finally
        {
            inLoop = false;
            Volatile.Write(ref current, null);
            Volatile.Write(ref busy, 0);
        }
        loop.ThrowIfFailed();
    }

    // A loop started while another thread's loop holds the team (the ranks of ProcessGroup.RunThreads): the thread pool
    // runs it with this thread's share of the processors, as every loop ran before the team. A loop its bodies start
    // runs inline there too.
    private static void RunOnThreadPool(int count, Action<int> body)
    {
        try
        {
            Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = Parallelism.Threads }, item =>
            {
                inLoop = true;
                try
                {
                    body(item);
                }
                finally
                {
                    inLoop = false;
                }
            });
        }
        catch (AggregateException error) when (error.InnerExceptions.Count > 0)
        {
            ExceptionDispatchInfo.Throw(error.InnerExceptions[0]);
        }
    }

    private static void Start()
    {
        if (Volatile.Read(ref workers) is not null)
        {
            return;
        }
        lock (StartGate)
        {
            if (workers is not null)
            {
                return;
            }
            var started = new Thread[WorkerCount];
            for (int i = 0; i < started.Length; i++)
            {
                started[i] = new Thread(Work) { IsBackground = true, Name = $"NormSharp worker {i + 1}" };
                started[i].Start();
            }
            Volatile.Write(ref workers, started);
        }
    }

    // A worker: joins every loop it sees start; polls for SpinTime after each, then blocks until the next one.
    private static void Work()
    {
        inLoop = true;
        long seen = Volatile.Read(ref generation);
        while (true)
        {
            long idleSince = Stopwatch.GetTimestamp();
            long latest;
            while ((latest = Volatile.Read(ref generation)) == seen)
            {
                if (Stopwatch.GetTimestamp() - idleSince < SpinTicks)
                {
                    Thread.SpinWait(20);
                    continue;
                }
                Interlocked.Increment(ref sleepers);
                if (Volatile.Read(ref generation) == seen)
                {
                    Wake.Wait();
                }
                Interlocked.Decrement(ref sleepers);
                idleSince = Stopwatch.GetTimestamp();
            }
            seen = latest;
            // Null or a later loop when this one already ended: joining a loop with no items left does nothing.
            Volatile.Read(ref current)?.Run();
        }
    }

    // One parallel loop: items claimed one at a time from `next`; `done` counts the claims that have finished.
    private sealed class Loop(int count, Action<int> body)
    {
        private int next;
        private int done;
        private ExceptionDispatchInfo? failure;

        public void Run()
        {
            int item;
            while ((item = Interlocked.Increment(ref next) - 1) < count)
            {
                try
                {
                    if (Volatile.Read(ref failure) is null)
                    {
                        body(item);
                    }
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref failure, ExceptionDispatchInfo.Capture(e), null);
                }
                finally
                {
                    Interlocked.Increment(ref done);
                }
            }
        }

        public void WaitUntilDone()
        {
            var spinner = new SpinWait();
            while (Volatile.Read(ref done) < count)
            {
                spinner.SpinOnce(sleep1Threshold: -1);
            }
        }

        public void ThrowIfFailed() => failure?.Throw();
    }
}
