using NormSharp.Distributed;
using NormSharp.Distributed.Checks;

namespace NormSharp.Distributed.Tests;

/// <summary>
/// The distributed checks on the thread backend: SyncBatchNorm against BatchNorm2d on the concatenated batch (unequal
/// shards, a rank without samples at 3 ranks), data-parallel training against one process, the collectives.
/// The same checks run under mpiexec in <see cref="MpiTests"/>.
/// </summary>
public class ThreadBackendTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Collectives_give_the_values_every_rank_can_compute(int worldSize) => RunEverywhere("collectives", worldSize);

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void SyncBatchNorm_equals_BatchNorm_on_the_concatenated_batch(int worldSize) => RunEverywhere("syncbn", worldSize);

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void SyncBatchNorm_channels_last_equals_BatchNorm_on_the_concatenated_batch(int worldSize) =>
        RunEverywhere("syncbn-channels-last", worldSize);

    [Theory]
    [InlineData("ddp-sgd", 2)]
    [InlineData("ddp-adam", 2)]
    [InlineData("ddp-sgd", 3)]
    public void Data_parallel_training_with_SyncBatchNorm_equals_one_process_on_the_whole_batch(string check, int worldSize) =>
        RunEverywhere(check, worldSize);

    private static void RunEverywhere(string check, int worldSize)
    {
        var summaries = new string[worldSize];
        ProcessGroup.RunThreads(worldSize, group => summaries[group.Rank] = DistributedChecks.Run(check, group), Timeout);
        Assert.All(summaries, Assert.NotNull);
    }
}
