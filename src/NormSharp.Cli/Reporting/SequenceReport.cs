using System.Globalization;
using NormSharp.Cli.Experiments;
using ScottPlot;

namespace NormSharp.Cli.Reporting;

/// <summary>The files and the report section of the demo's sequence section (<see cref="SequenceExperiment"/>).</summary>
internal static class SequenceReport
{
    public const string AccuracyPng = "sequence-accuracy.png";
    public const string AccuracyCsv = "sequence-accuracy.csv";
    public const string VariableLengthCsv = "sequence-variable-length.csv";
    public const string RunningStatisticsCsv = "sequence-running-statistics.csv";
    public const string RunningMeanPng = "sequence-running-mean.png";

    /// <summary>Writes the accuracy curves (PNG, CSV), the variable-length table (CSV) and the running-mean figure.</summary>
    public static void Write(OutputFolder folder, SequenceResult result)
    {
        folder.WriteText(AccuracyCsv, DemoReport.CurveTable(result.Runs).ToString());
        Plots.Lines(folder, AccuracyPng, "Fashion-MNIST read row by row (28 steps × 28 features): test accuracy",
            "training step", "test accuracy",
            result.Runs.Select(r => new Series(Label(r), Plots.ColorOf(r.Spec.Norm), [.. r.Points.Select(p => (double)p.Step)], [.. r.Points.Select(p => p.TestAccuracy)])),
            yRange: (0, 1));

        var csv = new CsvTable("run", "masked", "steps", "stopped_by_time_budget", "test_accuracy", "running_mean_error", "running_var_relative_error", "seconds");
        foreach (var run in result.VariableLength)
        {
            csv.Row(run.Name, run.Masked, run.Steps, run.StoppedByBudget, run.TestAccuracy, run.MeanError, run.VarianceError, run.Seconds);
        }
        folder.WriteText(VariableLengthCsv, csv.ToString());
        var statistics = new CsvTable("feature", "true_mean", "true_variance", "masked_running_mean", "masked_running_var", "plain_running_mean", "plain_running_var");
        var masked = result.VariableLength.First(r => r.Masked);
        var plain = result.VariableLength.First(r => !r.Masked);
        for (int c = 0; c < result.TrueMean.Length; c++)
        {
            statistics.Row(c, result.TrueMean[c], result.TrueVariance[c], masked.RunningMean[c], masked.RunningVar[c], plain.RunningMean[c], plain.RunningVar[c]);
        }
        folder.WriteText(RunningStatisticsCsv, statistics.ToString());

        double[] features = [.. Enumerable.Range(0, result.TrueMean.Length).Select(c => (double)c)];
        Plots.Lines(folder, RunningMeanPng, "Variable-length rows: BatchNorm1d running mean per feature after training",
            "feature (pixel column)", "mean of the standardized input",
            [
                new Series("statistics of the valid rows", Colors.Gray, features, result.TrueMean, Dashed: true),
                new Series("masked batch norm", Plots.ColorOf(Experiments.NormKind.Batch), features, masked.RunningMean),
                new Series("plain batch norm (padding included)", Plots.ColorOf(Experiments.NormKind.None), features, plain.RunningMean),
            ]);
    }

    /// <summary>Section 5 of the report.</summary>
    public static void AddSection(ReportDocument doc, SequenceResult result)
    {
        doc.Heading("6. Sequences: batch-normalized recurrences and padded batches");
        doc.Paragraph("Each Fashion-MNIST image is read row by row, a sequence of 28 steps of 28 features, by a one-layer recurrent network of " +
            $"{SequenceModels.HiddenSize} units whose last hidden state goes through a linear layer (Adam, lr 1e-3, batch 64): an LSTM, the " +
            "batch-normalized LSTM of Cooijmans et al. (2016, separate batch norm of W_x·x and W_h·h with statistics per time step, batch norm of " +
            "the cell before the output gate, γ = 0.1) and the layer-normalized LSTM of Ba et al. (2016).");
        doc.Figure(AccuracyPng, "Test accuracy against training steps: LSTM, BN-LSTM, LN-LSTM.");
        doc.Table(["run", "steps", "final test accuracy", "seconds per epoch"],
            result.Runs.Select(r => new[]
            {
                Label(r), r.StepsDone.ToString("N0", CultureInfo.InvariantCulture) + (r.StoppedByBudget ? " (time budget)" : ""),
                DemoReport.F3(r.FinalTestAccuracy), DemoReport.F1(r.SecondsPerEpoch),
            }));
        doc.Paragraph($"Variable lengths: every image is cut to its first k rows (k uniform in [{SequenceExperiment.MinLength}, 28]) and zero-padded " +
            "back to 28; BatchNorm1d over the 28 features, then an LSTM that stops at each sample's length, then a linear layer. The batch norm " +
            "either takes its statistics over the valid rows only (`BatchNorm1d.Forward(input, mask)`) or over every row, padding included " +
            "(plain batch norm, the problem of pytorch#70529). Errors of the running statistics are against the statistics of the valid rows " +
            "of 10,000 cropped training images; accuracy is on the cropped test set in evaluation mode.");
        doc.Table(["batch norm", "steps", "test accuracy", "running-mean error (mean |Δ|)", "running-variance error (Σ |Δ| / Σ σ²)"],
            result.VariableLength.Select(r => new[]
            {
                r.Name, r.Steps.ToString("N0", CultureInfo.InvariantCulture) + (r.StoppedByBudget ? " (time budget)" : ""),
                DemoReport.F3(r.TestAccuracy), DemoReport.F3(r.MeanError), DemoReport.F3(r.VarianceError),
            }));
        doc.Figure(RunningMeanPng, "Running mean of each feature after training, against the mean of the valid rows.");
    }

    /// <summary>The headline lines for the summary.</summary>
    public static IEnumerable<string> SummaryLines(SequenceResult result)
    {
        yield return "Row-by-row Fashion-MNIST after " + result.Runs[0].StepsDone.ToString("N0", CultureInfo.InvariantCulture) + " steps: " +
            string.Join(", ", result.Runs.Select(r => $"{Label(r)} **{DemoReport.F3(r.FinalTestAccuracy)}**")) + ".";
        var masked = result.VariableLength.First(r => r.Masked);
        var plain = result.VariableLength.First(r => !r.Masked);
        yield return $"Padded batches: running-variance error {DemoReport.F3(masked.VarianceError)} with masked batch norm vs {DemoReport.F3(plain.VarianceError)} " +
            $"with plain batch norm over the padding; test accuracy {DemoReport.F3(masked.TestAccuracy)} vs {DemoReport.F3(plain.TestAccuracy)}.";
    }

    private static string Label(RunResult run) => run.Spec.Model switch
    {
        ModelKind.BnLstm => "BN-LSTM",
        ModelKind.LnLstm => "LN-LSTM",
        _ => "LSTM",
    };
}
