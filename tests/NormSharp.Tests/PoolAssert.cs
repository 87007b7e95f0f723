namespace NormSharp.Tests;

/// <summary>Checks on the storage pool's counters (<see cref="StoragePool.FreshArrays"/>, <see cref="StoragePool.RequestedCollections"/>).</summary>
internal static class PoolAssert
{
    /// <summary>
    /// Runs <paramref name="step"/> <paramref name="warmUpSteps"/> times, then <paramref name="countedSteps"/> times
    /// more, which together must take no fresh pooled array and request no collection.
    /// </summary>
    public static void SteadyStepsReuseMemory(Action step, int warmUpSteps, int countedSteps)
    {
        for (int i = 0; i < warmUpSteps; i++)
        {
            step();
        }
        long freshBefore = StoragePool.FreshArrays;
        int collectionsBefore = StoragePool.RequestedCollections;
        for (int i = 0; i < countedSteps; i++)
        {
            step();
        }
        Assert.Equal(0, StoragePool.FreshArrays - freshBefore);
        Assert.Equal(0, StoragePool.RequestedCollections - collectionsBefore);
    }
}
