using NormSharp.Distributed;
using NormSharp.Distributed.Checks;

namespace NormSharp.Distributed.Tests;

/// <summary>No rank waits forever: a failing, departed, stalled or mismatched rank fails every rank with a clear error.</summary>
public class FailureTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void A_rank_that_throws_fails_every_rank_with_its_error(int worldSize)
    {
        var errors = new Exception?[worldSize];
        var failure = Assert.Throws<RankFailedException>(() => ProcessGroup.RunThreads(worldSize, group =>
        {
            try
            {
                DistributedChecks.Run("fail", group);
            }
            catch (Exception error)
            {
                errors[group.Rank] = error;
                throw;
            }
        }, TimeSpan.FromMinutes(2)));   // far above the immediate failure: reaching it would fail the assertions below
        Assert.Equal(1, failure.Rank);
        Assert.Contains("rank 1 fails on purpose", failure.Message, StringComparison.Ordinal);
        Assert.IsType<InvalidOperationException>(failure.InnerException);
        for (int rank = 0; rank < worldSize; rank++)
        {
            Assert.NotNull(errors[rank]);
            if (rank != 1)
            {
                var waiting = Assert.IsType<RankFailedException>(errors[rank]);
                Assert.Contains("Rank 1 of", waiting.Message, StringComparison.Ordinal);
                Assert.IsNotType<TimeoutException>(waiting.InnerException);
            }
        }
    }

    [Fact]
    public void A_rank_that_returns_while_others_wait_fails_the_group_at_once()
    {
        var failure = Assert.Throws<RankFailedException>(() => ProcessGroup.RunThreads(2, group =>
        {
            if (group.Rank == 0)
            {
                group.Barrier();
            }
        }, TimeSpan.FromMinutes(2)));
        Assert.Equal(1, failure.Rank);
        Assert.IsType<TimeoutException>(failure.InnerException);
        Assert.Contains("Rank 1 returned while rank 0 waits for it in Barrier", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_stalled_rank_fails_the_group_after_the_timeout()
    {
        using var release = new ManualResetEventSlim();
        var failure = Assert.Throws<RankFailedException>(() => ProcessGroup.RunThreads(2, group =>
        {
            if (group.Rank == 1)
            {
                release.Wait();   // stalls until rank 0 has timed out
                return;
            }
            try
            {
                group.AllReduce(new float[4], ReduceOp.Sum);
            }
            finally
            {
                release.Set();
            }
        }, TimeSpan.FromMilliseconds(200)));
        Assert.Equal(0, failure.Rank);
        var timeout = Assert.IsType<TimeoutException>(failure.InnerException);
        Assert.Contains("waited 0.2 s in AllReduce(Single × 4, Sum) for rank(s) 1", timeout.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ranks_calling_different_collectives_all_fail_naming_each_call()
    {
        var failure = Assert.Throws<RankFailedException>(() => ProcessGroup.RunThreads(2, group =>
        {
            if (group.Rank == 0)
            {
                group.AllReduce(new float[3], ReduceOp.Sum);
            }
            else
            {
                group.AllReduce(new float[5], ReduceOp.Sum);
            }
        }, TimeSpan.FromMinutes(2)));
        Assert.IsType<InvalidOperationException>(failure.InnerException);
        Assert.Contains("rank 0: AllReduce(Single × 3, Sum); rank 1: AllReduce(Single × 5, Sum)", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_arguments_are_refused_before_any_communication()
    {
        ProcessGroup.RunThreads(1, group =>
        {
            var gather = Assert.Throws<ArgumentException>(() => group.AllGather(new float[2], new float[3]));
            Assert.Contains("WorldSize · mine.Length = 1 · 2 = 2 elements, got 3", gather.Message, StringComparison.Ordinal);
            Assert.Throws<ArgumentOutOfRangeException>(() => group.Broadcast(new float[1], 1));
        });
        Assert.Throws<ArgumentOutOfRangeException>(() => ProcessGroup.RunThreads(0, _ => { }));
    }
}
