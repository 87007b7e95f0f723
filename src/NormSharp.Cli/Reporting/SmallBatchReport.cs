using System.Globalization;
using NormSharp.Cli.Experiments;

namespace NormSharp.Cli.Reporting;

/// <summary>The demo's small-batch section: figure, CSV, report section and summary line.</summary>
internal static class SmallBatchReport
{
    public const string Png = "small-batch.png";
    public const string Csv = "small-batch.csv";
    public const string RecalibrationCsv = "small-batch-recalibration.csv";

    /// <summary>
    /// Writes small-batch.csv (one line per run, the runs.csv columns; runs.csv has the same lines), the recalibration
    /// example's figures (small-batch-recalibration.csv) and small-batch.png (accuracy against batch size).
    /// </summary>
    public static void Write(OutputFolder folder, SmallBatchResult result)
    {
        folder.WriteText(Csv, DemoReport.RunsTable(result.AllRuns).ToString());
        if (result.Recalibration is { } r)
        {
            var csv = new CsvTable("trained_batch_size", "batches", "batch_size", "test_accuracy_before", "test_accuracy_after", "seconds");
            csv.Row(r.TrainedBatchSize, r.Batches, r.BatchSize, r.Before, r.After, r.Seconds);
            folder.WriteText(RecalibrationCsv, csv.ToString());
        }
        Plots.GroupedBars(folder, Png,
            $"Demo CNN, up to {SamplesText(result)} training images per run: test accuracy against batch size",
            "batch size", "final test accuracy",
            [.. result.BatchSizes.Select(size => size.ToString(CultureInfo.InvariantCulture))],
            [.. result.Norms.Select((norm, n) => (Choices.Label(norm), Plots.ColorOf(norm), result.Runs.Select(runs => Accuracy(runs[n])).ToArray()))]);
    }

    /// <summary>Adds the section to the report.</summary>
    public static void AddSection(ReportDocument doc, SmallBatchResult result, string heading)
    {
        doc.Heading(heading);
        doc.Paragraph("Batch norm estimates each channel's mean and variance from the batch, and those estimates get noisy as the batch " +
            "shrinks, both in training (noisy normalization) and in the running statistics evaluation uses. The demo CNN " +
            $"is trained here at batch sizes {string.Join(", ", result.BatchSizes)} on the same number of images ({SamplesText(result)}; " +
            "so larger batches take fewer steps), Adam at the same learning rate, with four normalizations: **batch norm**; **batch " +
            "renorm** (Ioffe 2017: corrects each batch's normalization toward the running statistics, with its clipping bounds relaxed " +
            "from plain batch norm over the run); **ghost batch norm** (each chunk of " +
            $"{Models.GhostVirtualBatchSize} samples normalized separately, the same as batch norm at batch {Models.GhostVirtualBatchSize} and below); " +
            "and **group norm**, which uses no batch statistics at all. A short run like this shows early training, not converged accuracy.");
        doc.Figure(Png, "Final test accuracy of each normalization at each batch size.");
        doc.Table(["batch size", .. result.Norms.Select(Choices.Label), "steps"],
            result.BatchSizes.Select((size, b) => (string[])
            [
                size.ToString(CultureInfo.InvariantCulture),
                .. result.Runs[b].Select(r => DemoReport.F3(Accuracy(r)) + (r.StoppedByBudget ? "*" : "")),
                result.Runs[b].Max(r => r.StepsDone).ToString("N0", CultureInfo.InvariantCulture),
            ]));
        doc.Paragraph("\\* stopped by the time budget (the other runs at that batch size then take no more steps); n/a: no step trained in time.");
        if (result.Recalibration is { } recalibration)
        {
            doc.Paragraph($"**Recalibration.** The batch-norm model trained at batch {recalibration.TrainedBatchSize} evaluates with running " +
                $"statistics averaged from batches of {recalibration.TrainedBatchSize}. `BatchNormStatistics.UpdatePrecise` (fvcore's PreciseBN) " +
                $"replaces them, without training, by the equal-weight average of the statistics of {recalibration.Batches} training batches of " +
                $"{recalibration.BatchSize}: test accuracy **{DemoReport.F3(recalibration.Before)} before, {DemoReport.F3(recalibration.After)} after** " +
                $"({recalibration.Seconds:0.0} s).");
        }
    }

    /// <summary>The headline line for the summary.</summary>
    public static string SummaryLine(SmallBatchResult result)
    {
        int smallest = 0, largest = result.BatchSizes.Length - 1;
        string At(int b) => string.Join(", ", result.Norms.Select((norm, n) => $"{Choices.Label(norm)} {DemoReport.F3(Accuracy(result.Runs[b][n]))}"));
        var line = $"Small batches (CNN, {SamplesText(result)} images per run): at batch {result.BatchSizes[smallest]}: {At(smallest)}; " +
            $"at batch {result.BatchSizes[largest]}: {At(largest)}.";
        return result.Recalibration is { } r
            ? line + $" UpdatePrecise on the batch-{r.TrainedBatchSize} batch-norm model: {DemoReport.F3(r.Before)} → {DemoReport.F3(r.After)}."
            : line;
    }

    /// <summary>The final test accuracy, or NaN (shown as n/a) for a run the time budget left untrained: its chance accuracy would read as a result.</summary>
    private static double Accuracy(RunResult run) => run.StepsDone > 0 ? run.FinalTestAccuracy : double.NaN;

    private static string SamplesText(SmallBatchResult result) => result.SamplesPerRun.ToString("N0", CultureInfo.InvariantCulture);
}
