namespace NormSharp.Cli.Experiments;

/// <summary>Final accuracies of one network at each learning rate, with and without batch norm.</summary>
internal sealed record SweepResult(double[] LearningRates, RunResult[] WithBatchNorm, RunResult[] WithoutNorm);

/// <summary>
/// Learning-rate tolerance: the paper MLP trained for the same number of steps at several SGD
/// learning rates, with and without batch norm. Batch norm makes the layers' Jacobians
/// insensitive to the scale of the weights, so large rates that saturate the sigmoids of the plain
/// network still train.
/// </summary>
internal static class LearningRateSweep
{
    /// <summary>The run names' prefix.</summary>
    public const string Prefix = "LR sweep";

    public static SweepResult Run(ExperimentData data, DemoBudget budget, int seed, DateTime stageDeadline,
        IReadOnlyList<IRunProgress> progress, CancellationToken cancellation) =>
        Run(data, budget.SweepLearningRates, budget.SweepSteps, Math.Max(1, budget.SweepSteps / 10), (name, norm, rate) => PaperMlpExperiment.Spec(name, norm, budget, seed, rate),
            stageDeadline, progress, cancellation);

    /// <summary>
    /// Trains <paramref name="spec"/>'s network at each of <paramref name="rates"/>, with batch norm and then without,
    /// for <paramref name="steps"/> steps, evaluating every <paramref name="evalEvery"/> steps; when the time budget stops the batch-norm run, the plain run at that rate takes
    /// no more steps, so every pair compares the same number of steps (a cut pair does not cut the pairs after it,
    /// which get the time it left). Diverged runs are recorded (NaN loss, chance accuracy), not thrown.
    /// </summary>
    public static SweepResult Run(ExperimentData data, double[] rates, int steps, int evalEvery, Func<string, NormKind, double, RunSpec> spec,
        DateTime stageDeadline, IReadOnlyList<IRunProgress> progress, CancellationToken cancellation)
    {
        var bn = new RunResult[rates.Length];
        var none = new RunResult[rates.Length];
        int runsLeft = 2 * rates.Length;
        for (int i = 0; i < rates.Length; i++)
        {
            int pairSteps = steps;
            foreach (var (norm, results, bar) in new[] { (NormKind.Batch, bn, progress[2 * i]), (NormKind.None, none, progress[2 * i + 1]) })
            {
                var result = Trainer.Run(spec(bar.Name, norm, rates[i]), data.Train, data.Test, data.EvalSet, pairSteps, evalEvery,
                    TimeBudget.RunDeadline(stageDeadline, runsLeft--), bar.Observer(), cancellation);
                bar.Complete(result);
                results[i] = result;
                pairSteps = Math.Min(pairSteps, Math.Max(1, result.StepsDone));
            }
        }
        return new SweepResult(rates, bn, none);
    }

    /// <summary>The run names, in the order <see cref="Run(ExperimentData, double[], int, int, Func{string, NormKind, double, RunSpec}, DateTime, IReadOnlyList{IRunProgress}, CancellationToken)"/> uses its progress bars.</summary>
    public static IEnumerable<string> RunNames(string prefix, double[] rates) =>
        rates.SelectMany(rate => new[]
        {
            $"{prefix} {Format(rate)}, batch norm",
            $"{prefix} {Format(rate)}, no norm",
        });

    public static string Format(double rate) => rate.ToString("0.####", System.Globalization.CultureInfo.InvariantCulture);
}
