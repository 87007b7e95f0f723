namespace NormSharp.Cli.Experiments;

/// <summary>Final accuracies of the paper MLP at each learning rate, with and without batch norm.</summary>
internal sealed record SweepResult(double[] LearningRates, RunResult[] WithBatchNorm, RunResult[] WithoutNorm);

/// <summary>
/// Learning-rate tolerance: the paper MLP trained for the same number of steps at several SGD
/// learning rates, with and without batch norm. Batch norm makes the layers' Jacobians
/// insensitive to the scale of the weights, so large rates that saturate the sigmoids of the plain
/// network still train.
/// </summary>
internal static class LearningRateSweep
{
    public static SweepResult Run(ExperimentData data, DemoBudget budget, int seed, DateTime stageDeadline,
        IReadOnlyList<RunProgress> progress, CancellationToken cancellation)
    {
        var rates = budget.SweepLearningRates;
        var bn = new RunResult[rates.Length];
        var none = new RunResult[rates.Length];
        int steps = budget.SweepSteps;
        int runsLeft = 2 * rates.Length;
        for (int i = 0; i < rates.Length; i++)
        {
            foreach (var (norm, results, bar) in new[] { (NormKind.Batch, bn, progress[2 * i]), (NormKind.None, none, progress[2 * i + 1]) })
            {
                var spec = PaperMlpExperiment.Spec(bar.Name, norm, budget, seed, rates[i]);
                var result = Trainer.Run(spec, data.Train, data.Test, data.EvalSet, steps, Math.Max(1, steps / 10),
                    TimeBudget.RunDeadline(stageDeadline, runsLeft--), bar.Observer(), cancellation);
                bar.Complete(result);
                results[i] = result;
                steps = Math.Min(steps, Math.Max(1, result.StepsDone));
            }
        }
        return new SweepResult(rates, bn, none);
    }

    /// <summary>The run names, in the order <see cref="Run"/> uses its progress bars.</summary>
    public static IEnumerable<string> RunNames(DemoBudget budget) =>
        budget.SweepLearningRates.SelectMany(rate => new[]
        {
            $"LR sweep {Format(rate)}, batch norm",
            $"LR sweep {Format(rate)}, no norm",
        });

    public static string Format(double rate) => rate.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);
}
