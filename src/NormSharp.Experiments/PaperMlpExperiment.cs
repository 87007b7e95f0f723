using NormSharp.Autograd;
using NormSharp.Data;
using NormSharp.Nn;

namespace NormSharp.Cli.Experiments;

/// <summary>The data an experiment trains and evaluates on.</summary>
/// <param name="Train">Training samples.</param>
/// <param name="Test">The whole test set, for final accuracies.</param>
/// <param name="EvalSet">A fixed slice of the test set for the curves (cheaper than the whole set at every point).</param>
/// <param name="Probe">A fixed slice of the test set whose activations the percentile plot follows.</param>
internal sealed record ExperimentData(Dataset Train, Dataset Test, Dataset EvalSet, Dataset Probe);

/// <summary>The 15th, 50th and 85th percentiles of one unit's input over training.</summary>
internal sealed record PercentileTrace(List<double> Steps, List<double> P15, List<double> P50, List<double> P85)
{
    public PercentileTrace()
        : this([], [], [], [])
    {
    }
}

/// <summary>What the paper-MLP experiment measured.</summary>
internal sealed record PaperMlpResult(RunResult WithBatchNorm, RunResult WithoutNorm, PercentileTrace BatchNormTrace, PercentileTrace NoNormTrace, int Unit);

/// <summary>
/// Ioffe &amp; Szegedy (2015), Figure 1: the MNIST network (3 fully connected hidden layers of 100
/// sigmoid units, batch 60, plain SGD) trained with and without batch norm (BN before each sigmoid).
/// Records test accuracy against steps, Figure 1(a), and the {15, 50, 85}th percentiles of the input
/// to one sigmoid of the last hidden layer over a fixed probe batch, Figures 1(b, c).
/// </summary>
internal static class PaperMlpExperiment
{
    /// <summary>The unit of the last hidden layer whose input is followed (the paper shows "a typical sigmoid").</summary>
    public const int Unit = 0;

    /// <summary>The paper's batch size.</summary>
    public const int BatchSize = 60;

    public static PaperMlpResult Run(ExperimentData data, DemoBudget budget, int seed, DateTime stageDeadline,
        IRunProgress batchNormProgress, IRunProgress noNormProgress, CancellationToken cancellation)
    {
        int steps = budget.MlpSteps;
        // The slower model (with BN) runs first; the other then takes no more steps than it managed.
        var bnTrace = new PercentileTrace();
        var bn = Trainer.Run(Spec("paper MLP, batch norm", NormKind.Batch, budget, seed), data.Train, data.Test, data.EvalSet, steps, budget.MlpEval,
            TimeBudget.RunDeadline(stageDeadline, 2), batchNormProgress.Observer((p, m) => Record(bnTrace, p, m, data.Probe)), cancellation);
        batchNormProgress.Complete(bn);
        var noTrace = new PercentileTrace();
        var none = Trainer.Run(Spec("paper MLP, no norm", NormKind.None, budget, seed), data.Train, data.Test, data.EvalSet, Math.Min(steps, bn.StepsDone), budget.MlpEval,
            TimeBudget.RunDeadline(stageDeadline, 1), noNormProgress.Observer((p, m) => Record(noTrace, p, m, data.Probe)), cancellation);
        noNormProgress.Complete(none);
        return new PaperMlpResult(bn, none, bnTrace, noTrace, Unit);
    }

    public static RunSpec Spec(string name, NormKind norm, DemoBudget budget, int seed, double? learningRate = null) =>
        new(name, ModelKind.PaperMlp, norm, OptimizerKind.Sgd, learningRate ?? budget.MlpLearningRate, BatchSize, Seed: seed);

    private static void Record(PercentileTrace trace, EvalPoint point, Sequential model, Dataset probe)
    {
        var inputs = SigmoidInputs(model, probe.Images, Unit);
        Array.Sort(inputs);
        trace.Steps.Add(point.Step);
        trace.P15.Add(Percentile(inputs, 0.15));
        trace.P50.Add(Percentile(inputs, 0.50));
        trace.P85.Add(Percentile(inputs, 0.85));
    }

    /// <summary>The input of the last activation layer, unit <paramref name="unit"/>, for each sample of <paramref name="images"/>.</summary>
    public static double[] SigmoidInputs(Sequential model, Tensor images, int unit)
    {
        using var _ = new NoGrad();
        int last = Models.LastActivationIndex(model);
        var x = images;
        for (int i = 0; i < last; i++)
        {
            x = model[i].Forward(x);
        }
        int n = x.Size(0), width = x.Size(1);
        var values = x.AsSpan();
        var result = new double[n];
        for (int s = 0; s < n; s++)
        {
            result[s] = values[s * width + unit];
        }
        return result;
    }

    /// <summary>The q-quantile of sorted values with linear interpolation (numpy's default, PyTorch's <c>quantile</c>).</summary>
    public static double Percentile(double[] sorted, double q)
    {
        if (sorted.Length == 0)
        {
            return double.NaN;
        }
        double position = q * (sorted.Length - 1);
        int below = (int)Math.Floor(position);
        int above = Math.Min(below + 1, sorted.Length - 1);
        return sorted[below] + (position - below) * (sorted[above] - sorted[below]);
    }
}
