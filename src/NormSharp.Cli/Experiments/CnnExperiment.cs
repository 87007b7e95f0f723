namespace NormSharp.Cli.Experiments;

/// <summary>
/// The small CNN with batch norm (two 3 × 3 convolutions with BatchNorm2d, ReLU and max pooling,
/// then two fully connected layers, the hidden one with BatchNorm1d and dropout), Adam, on the same data:
/// training and test curves.
/// </summary>
internal static class CnnExperiment
{
    public static RunSpec Spec(DemoBudget budget, int seed) =>
        new("CNN, batch norm", ModelKind.Cnn, NormKind.Batch, OptimizerKind.Adam, budget.CnnLearningRate, budget.CnnBatchSize, seed);

    public static RunResult Run(ExperimentData data, DemoBudget budget, int seed, DateTime stageDeadline, RunProgress progress, CancellationToken cancellation)
    {
        var result = Trainer.Run(Spec(budget, seed), data.Train, data.Test, data.EvalSet, budget.CnnSteps, budget.CnnEvalEvery,
            stageDeadline, progress.Observer(), cancellation);
        progress.Complete(result);
        return result;
    }
}
