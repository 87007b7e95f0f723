namespace NormSharp.Cli.Experiments;

/// <summary>
/// The small CNN (two 3 × 3 convolutions with ReLU and max pooling, then two fully connected layers,
/// the hidden one with dropout), Adam, with batch norm (BatchNorm2d after each convolution, BatchNorm1d
/// in the hidden layer) and without, at the usual Adam rate and at a higher one
/// (<see cref="DemoBudget.CnnHighLearningRate"/>) that batch norm tolerates and the plain network does not.
/// </summary>
internal static class CnnExperiment
{
    /// <summary>The run names' prefix.</summary>
    public const string Prefix = "CNN lr";

    /// <summary>The usual rate, then the high one.</summary>
    public static double[] LearningRates(DemoBudget budget) => [budget.CnnLearningRate, budget.CnnHighLearningRate];

    public static RunSpec Spec(string name, NormKind norm, DemoBudget budget, int seed, double learningRate) =>
        new(name, ModelKind.Cnn, norm, OptimizerKind.Adam, learningRate, budget.CnnBatchSize, seed);

    public static SweepResult Run(ExperimentData data, DemoBudget budget, int seed, DateTime stageDeadline,
        IReadOnlyList<IRunProgress> progress, CancellationToken cancellation) =>
        LearningRateSweep.Run(data, LearningRates(budget), budget.CnnSteps, budget.CnnEvalEvery, (name, norm, rate) => Spec(name, norm, budget, seed, rate),
            stageDeadline, progress, cancellation);
}
