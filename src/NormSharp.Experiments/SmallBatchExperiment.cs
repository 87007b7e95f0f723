using NormSharp.Data;
using NormSharp.Nn;

namespace NormSharp.Cli.Experiments;

/// <summary>How much work the small-batch section does.</summary>
/// <param name="BatchSizes">The batch sizes trained, in the order they run.</param>
/// <param name="SamplesPerRun">Training images each run sees (the same for every batch size: fewer steps for larger batches).</param>
/// <param name="TestSamples">Test images the final accuracies are measured on.</param>
/// <param name="RecalibrationBatchSize">Batch size of the UpdatePrecise pass.</param>
/// <param name="RecalibrationBatches">Batches the UpdatePrecise pass averages.</param>
internal sealed record SmallBatchBudget(int[] BatchSizes, int SamplesPerRun, int TestSamples, int RecalibrationBatchSize, int RecalibrationBatches)
{
    /// <summary>The batch size of the recalibration example's model.</summary>
    public const int RecalibratedBatchSize = 4;

    /// <summary>
    /// The full demo: 20 runs of 4,096 images. Sized from the bench's CNN epoch on 2 idle cores (about 0.3 ms per image at
    /// batch 64; more per image at batch 2, where per-step costs dominate): estimated at about a minute of its 25% share, not measured on idle cores; on a
    /// busy machine the time budget cuts the runs (measured here under a load average of 48 on 2 cores: the whole demo
    /// in 9 min 21 s, the runs cut to 0-74 steps).
    /// </summary>
    public static SmallBatchBudget Full { get; } = new([2, 4, 8, 16, 64], SamplesPerRun: 4096, TestSamples: 1000, RecalibrationBatchSize: 64, RecalibrationBatches: 50);

    public static SmallBatchBudget Quick { get; } = new([2, 4, 8, 16, 64], SamplesPerRun: 256, TestSamples: 500, RecalibrationBatchSize: 64, RecalibrationBatches: 8);

    public static SmallBatchBudget Tiny { get; } = new([2, 4], SamplesPerRun: 16, TestSamples: 50, RecalibrationBatchSize: 8, RecalibrationBatches: 2);
}

/// <summary>The small-batch runs and the recalibration example.</summary>
/// <param name="Norms">The normalizations, in the order of <paramref name="Runs"/>' inner index.</param>
/// <param name="BatchSizes">The batch sizes, in the order of <paramref name="Runs"/>' outer index.</param>
/// <param name="SamplesPerRun">Training images each run was planned to see.</param>
/// <param name="Runs">Runs[batch size index][norm index].</param>
/// <param name="Recalibration">The batch-4 batch-norm model's test accuracy before and after UpdatePrecise, or null when that run is not in the grid.</param>
internal sealed record SmallBatchResult(NormKind[] Norms, int[] BatchSizes, int SamplesPerRun, RunResult[][] Runs, RecalibrationResult? Recalibration)
{
    public IEnumerable<RunResult> AllRuns => Runs.SelectMany(r => r);
}

/// <summary>Test accuracy of a model before and after <see cref="BatchNormStatistics.UpdatePrecise"/>.</summary>
internal sealed record RecalibrationResult(int TrainedBatchSize, int Batches, int BatchSize, double Before, double After, double Seconds);

/// <summary>
/// Batch norm at small batch sizes: the demo CNN trained with BatchNorm, BatchRenorm, GhostBatchNorm and GroupNorm at
/// each batch size, on the same number of training images, Adam at the demo CNN's learning rate; final test accuracy
/// against batch size. Then the recalibration example: the batch-norm model trained at batch 4, its test accuracy before
/// and after <see cref="BatchNormStatistics.UpdatePrecise"/> over larger training batches.
/// </summary>
internal static class SmallBatchExperiment
{
    public static readonly NormKind[] Norms = [NormKind.Batch, NormKind.Renorm, NormKind.Ghost, NormKind.Group];

    /// <summary>The run names, in the order <see cref="Run"/> uses its progress bars (batch size outer, norm inner).</summary>
    public static IEnumerable<string> RunNames(SmallBatchBudget budget) =>
        budget.BatchSizes.SelectMany(size => Norms.Select(norm => Name(norm, size)));

    private static string Name(NormKind norm, int batchSize) => $"small batch {batchSize}, {Choices.Label(norm)}";

    public static SmallBatchResult Run(ExperimentData data, DemoBudget budget, int seed, DateTime stageDeadline,
        IReadOnlyList<IRunProgress> progress, CancellationToken cancellation)
    {
        var small = budget.SmallBatch;
        var test = data.Test.Take(Math.Min(small.TestSamples, data.Test.Count));
        // The curve points are not plotted here: the start and end are evaluated on a few images, the final accuracy on the test images.
        var evalSet = test.Take(Math.Min(100, test.Count));
        var runs = new RunResult[small.BatchSizes.Length][];
        int runsLeft = small.BatchSizes.Length * Norms.Length;
        for (int b = 0; b < small.BatchSizes.Length; b++)
        {
            int batchSize = small.BatchSizes[b];
            int steps = Math.Max(1, small.SamplesPerRun / batchSize);
            runs[b] = new RunResult[Norms.Length];
            for (int n = 0; n < Norms.Length; n++)
            {
                var bar = progress[b * Norms.Length + n];
                var spec = new RunSpec(bar.Name, ModelKind.Cnn, Norms[n], OptimizerKind.Adam, budget.CnnLearningRate, batchSize, seed);
                var result = Trainer.Run(spec, data.Train, test, evalSet, steps, int.MaxValue,
                    TimeBudget.RunDeadline(stageDeadline, runsLeft--), bar.Observer(), cancellation);
                bar.Complete(result);
                runs[b][n] = result;
                // A run the time budget stopped caps the others at its batch size, so that they stay comparable.
                steps = Math.Min(steps, Math.Max(1, result.StepsDone));
            }
        }
        int recalibrated = Array.IndexOf(small.BatchSizes, SmallBatchBudget.RecalibratedBatchSize);
        var recalibration = recalibrated < 0 ? null : Recalibrate(runs[recalibrated][Array.IndexOf(Norms, NormKind.Batch)], data.Train, test, small, seed);
        return new SmallBatchResult(Norms, small.BatchSizes, small.SamplesPerRun, runs, recalibration);
    }

    /// <summary>UpdatePrecise on the trained model over shuffled training batches, and the test accuracy after it.</summary>
    private static RecalibrationResult Recalibrate(RunResult run, Dataset train, Dataset test, SmallBatchBudget small, int seed)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var loader = new DataLoader(train, small.RecalibrationBatchSize, shuffle: true, dropLast: true, generator: new Generator(seed + 17));
        int batches = Math.Min(small.RecalibrationBatches, loader.Count);
        BatchNormStatistics.UpdatePrecise(run.Model, loader.Select(batch => batch.Images), batches);
        var (after, _) = Evaluation.Accuracy(run.Model, test);
        return new RecalibrationResult(run.Spec.BatchSize, batches, small.RecalibrationBatchSize, run.FinalTestAccuracy, after, clock.Elapsed.TotalSeconds);
    }
}
