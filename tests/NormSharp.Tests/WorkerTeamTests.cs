using NormSharp.Kernels;

namespace NormSharp.Tests;

public class WorkerTeamTests
{
    [Fact]
    public void Every_item_runs_exactly_once()
    {
        for (int count = 0; count <= 257; count++)
        {
            var runs = new int[count];
            WorkerTeam.For(count, i => Interlocked.Increment(ref runs[i]));
            Assert.All(runs, r => Assert.Equal(1, r));
        }
    }

    [Fact]
    public void The_first_exception_reaches_the_caller_and_the_team_keeps_working()
    {
        var error = Assert.Throws<InvalidOperationException>(() => WorkerTeam.For(64, i =>
        {
            if (i == 17)
            {
                throw new InvalidOperationException("item 17");
            }
        }));
        Assert.Equal("item 17", error.Message);

        long sum = 0;
        WorkerTeam.For(100, i => Interlocked.Add(ref sum, i));
        Assert.Equal(4950, sum);
    }

    [Fact]
    public void A_loop_inside_a_loop_body_runs_on_that_bodys_thread()
    {
        var runs = new int[16, 8];
        WorkerTeam.For(16, i =>
        {
            int thread = Environment.CurrentManagedThreadId;
            WorkerTeam.For(8, j =>
            {
                Assert.Equal(thread, Environment.CurrentManagedThreadId);
                Interlocked.Increment(ref runs[i, j]);
            });
        });
        Assert.All(runs.Cast<int>(), r => Assert.Equal(1, r));
    }

    [Fact]
    public void A_loop_inside_the_body_of_a_loop_on_the_thread_pool_runs_on_that_bodys_thread()
    {
        using var holding = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var holder = new Thread(() => WorkerTeam.For(2, i =>
        {
            if (i == 0)
            {
                holding.Set();
                release.Wait();
            }
        }));
        holder.Start();
        holding.Wait();   // another thread's loop holds the team, so the next loop runs on the thread pool
        int elsewhere = 0, runs = 0;
        WorkerTeam.For(4, i =>
        {
            release.Set();
            holder.Join();   // the team is free again when the inner loop starts
            int thread = Environment.CurrentManagedThreadId;
            WorkerTeam.For(8, j =>
            {
                Thread.SpinWait(2000);   // long enough for an idle worker to join, were the inner loop on the team
                if (Environment.CurrentManagedThreadId != thread)
                {
                    Interlocked.Increment(ref elsewhere);
                }
                Interlocked.Increment(ref runs);
            });
        });
        Assert.Equal(0, elsewhere);
        Assert.Equal(32, runs);
    }

    [Fact]
    public void A_thread_given_a_share_of_the_processors_uses_that_many()
    {
        int? shared = null;
        var thread = new Thread(() =>
        {
            Parallelism.ShareThreads(Parallelism.ProcessThreads + 1);
            shared = Parallelism.Threads;
        });
        thread.Start();
        thread.Join();
        Assert.Equal(1, shared);
        Assert.Equal(Parallelism.ProcessThreads, Parallelism.Threads);   // only that thread
    }

    [Fact]
    public void Loops_started_from_several_threads_at_once_each_complete()
    {
        const int threads = 4, loops = 200, count = 37;
        var totals = new long[threads];
        int failures = 0;
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            for (int l = 0; l < loops; l++)
            {
                WorkerTeam.For(count, i => Interlocked.Add(ref totals[t], i + 1));
                // Whether this loop got the team or the thread pool, a body's exception reaches its caller as itself.
                var error = Record.Exception(() => WorkerTeam.For(count, i => throw new InvalidOperationException($"rank {t}")));
                if (error is InvalidOperationException { Message: var message } && message == $"rank {t}")
                {
                    Interlocked.Increment(ref failures);
                }
            }
        });
        Assert.All(totals, total => Assert.Equal(loops * count * (count + 1) / 2, total));
        Assert.Equal(threads * loops, failures);
    }

    [Theory]
    [InlineData(0, 12)]
    [InlineData(5, 5)]
    [InlineData(16, 12)]
    [InlineData(12, 12)]
    [InlineData(13, 12)]
    [InlineData(128, 12)]
    [InlineData(1000, 24)]
    public void Shrinking_ranges_cover_the_items_in_order_largest_first(int count, int ranges)
    {
        int next = 0, previous = count;
        for (int r = 0; r < ranges; r++)
        {
            var (start, end) = Parallelism.ShrinkingRange(r, ranges, count);
            Assert.Equal(next, start);
            Assert.True(count >= ranges ? end > start : end >= start, $"range {r} of {count} items: [{start}, {end})");
            // Sizes never grow by more than the rounding of one boundary.
            Assert.True(end - start <= previous + 1, $"range {r} of {count} items holds {end - start}, the one before {previous}");
            previous = end - start;
            next = end;
        }
        Assert.Equal(count, next);
        if (count >= 100)
        {
            // The first range about 30% of the items (ratio 0.7), the last under 2%.
            var (_, firstEnd) = Parallelism.ShrinkingRange(0, ranges, count);
            var (lastStart, _) = Parallelism.ShrinkingRange(ranges - 1, ranges, count);
            Assert.InRange(firstEnd, count / 4, count / 3);
            Assert.InRange(count - lastStart, 0, count / 50);
        }
    }

    [Fact]
    public void Loops_of_more_ranges_than_threads_run_every_item_once()
    {
        var seen = new int[1000];
        Parallelism.ForRanges(seen.Length, Parallelism.BalancedRanges(seen.Length, Parallelism.Threads), (_, start, end) =>
        {
            for (int i = start; i < end; i++)
            {
                Interlocked.Increment(ref seen[i]);
            }
        });
        Assert.All(seen, times => Assert.Equal(1, times));
    }

    [Theory]
    [InlineData(2, null, 2)]
    [InlineData(2, "1", 2)]
    [InlineData(2, "2", 1)]
    [InlineData(2, "3", 1)]
    [InlineData(16, "4", 4)]
    [InlineData(16, "3", 5)]
    [InlineData(8, "", 8)]
    [InlineData(8, "two", 8)]
    public void An_MPI_job_shares_the_processors_among_its_processes_on_the_node(int processors, string? localRanks, int expected) =>
        Assert.Equal(expected, Parallelism.ThreadsPerProcess(processors, localRanks));
}
