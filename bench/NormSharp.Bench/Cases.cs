namespace NormSharp.Bench;

/// <summary>Every side-by-side case, in table order.</summary>
internal static class Cases
{
    /// <param name="epochRuns">Timed rounds of each training-epoch case.</param>
    /// <param name="epochBatchLimit">Batches per "epoch" in a quick run; null for the full epoch.</param>
    /// <param name="includeEpochs">Whether to build the epoch cases (they load Fashion-MNIST).</param>
    public static IEnumerable<BenchCase> All(int epochRuns, int? epochBatchLimit, bool includeEpochs)
    {
        var cases = NormCases.All().Concat(VariantCases.All()).Concat(GemmCases.All()).Concat(RecurrentCases.All()).Concat(StepCases.All()).Concat(PoolCases.All());
        return includeEpochs ? cases.Concat(EpochCases.All(epochRuns, epochBatchLimit)) : cases;
    }
}
