using System.Globalization;
using NormSharp.Cli.Experiments;

namespace NormSharp.Cli.Reporting;

/// <summary>Everything the demo measured, for the files and the terminal summary.</summary>
internal sealed record DemoResults(
    string DataDescription,
    DemoBudget Budget,
    int Seed,
    int TrainSamples,
    int TestSamples,
    PaperMlpResult Mlp,
    SweepResult Sweep,
    SweepResult Cnn,
    double TotalSeconds)
{
    /// <summary>Test images the curves are evaluated on: the budget's number, or all of them when the test set is smaller.</summary>
    public int EvalSamples => Math.Min(Budget.EvalSamples, TestSamples);

    /// <summary>The small-batch section, when it ran.</summary>
    public SmallBatchResult? SmallBatch { get; init; }

    /// <summary>The sequence section, when it ran.</summary>
    public SequenceResult? Sequence { get; init; }
}

/// <summary>Writes the demo's CSV files, figures, report.md and report.html into the output folder.</summary>
internal static class DemoReport
{
    public const string MlpAccuracyPng = "mlp-accuracy.png";
    public const string MlpAccuracyCsv = "mlp-accuracy.csv";
    public const string PercentilesPng = "sigmoid-percentiles.png";
    public const string PercentilesCsv = "sigmoid-percentiles.csv";
    public const string SweepPng = "lr-sweep.png";
    public const string SweepCsv = "lr-sweep.csv";
    public const string CnnPng = "cnn-curves.png";
    public const string CnnCsv = "cnn-curves.csv";
    public const string RunsCsv = "runs.csv";
    public const string ReportMd = "report.md";
    public const string ReportHtml = "report.html";

    public static void WriteAll(OutputFolder folder, DemoResults results)
    {
        WriteMlp(folder, results);
        WritePercentiles(folder, results.Mlp);
        WriteSweep(folder, results.Sweep);
        WriteCnn(folder, results.Cnn);
        if (results.Sequence is { } sequence)
        {
            SequenceReport.Write(folder, sequence);
        }
        folder.WriteText(RunsCsv, RunsTable(AllRuns(results)).ToString());
        if (results.SmallBatch is { } smallBatch)
        {
            SmallBatchReport.Write(folder, smallBatch);
        }
        var report = Build(results, folder);
        folder.WriteText(ReportMd, report.ToMarkdown());
        folder.WriteText(ReportHtml, report.ToHtml(name => File.Exists(folder.PathOf(name)) ? File.ReadAllBytes(folder.PathOf(name)) : null));
    }

    /// <summary>Every run, in the order they ran.</summary>
    public static IEnumerable<RunResult> AllRuns(DemoResults results)
    {
        yield return results.Mlp.WithBatchNorm;
        yield return results.Mlp.WithoutNorm;
        foreach (var sweep in new[] { results.Sweep, results.Cnn })
        {
            for (int i = 0; i < sweep.LearningRates.Length; i++)
            {
                yield return sweep.WithBatchNorm[i];
                yield return sweep.WithoutNorm[i];
            }
        }
        foreach (var run in results.SmallBatch?.AllRuns ?? [])
        {
            yield return run;
        }
        foreach (var run in results.Sequence?.Runs ?? [])
        {
            yield return run;
        }
    }

    /// <summary>The long-format curve table shared by the MLP, CNN and compare outputs.</summary>
    public static CsvTable CurveTable(IEnumerable<RunResult> runs)
    {
        var csv = new CsvTable("run", "model", "norm", "step", "epoch", "train_loss", "train_accuracy", "test_accuracy", "test_loss");
        foreach (var run in runs)
        {
            foreach (var p in run.Points)
            {
                csv.Row(run.Spec.Name, Choices.Name(run.Spec.Model), Choices.Name(run.Spec.Norm), p.Step, p.Epoch, p.TrainLoss, p.TrainAccuracy, p.TestAccuracy, p.TestLoss);
            }
        }
        return csv;
    }

    /// <summary>One line per run: settings, steps, final accuracy, speed.</summary>
    public static CsvTable RunsTable(IEnumerable<RunResult> runs, double target = 0.80)
    {
        var csv = new CsvTable("run", "model", "norm", "optimizer", "learning_rate", "batch_size", "steps", "stopped_by_time_budget",
            $"steps_to_{target.ToString("0.##", CultureInfo.InvariantCulture)}", "final_test_accuracy", "final_test_loss", "seconds_per_epoch", "train_seconds", "total_seconds");
        foreach (var r in runs)
        {
            csv.Row(r.Spec.Name, Choices.Name(r.Spec.Model), Choices.Name(r.Spec.Norm), Choices.Name(r.Spec.Optimizer), r.Spec.LearningRate, r.Spec.BatchSize,
                r.StepsDone, r.StoppedByBudget, r.StepsToAccuracy(target), r.FinalTestAccuracy, r.FinalTestLoss, r.SecondsPerEpoch, r.TrainSeconds, r.TotalSeconds);
        }
        return csv;
    }

    /// <summary>Accuracy (train dashed, test solid) and loss panels against epochs, one color per run.</summary>
    public static void WriteCurves(OutputFolder folder, string png, string csv, string title, IReadOnlyList<RunResult> runs)
    {
        folder.WriteText(csv, CurveTable(runs).ToString());
        var accuracy = new List<Series>();
        var loss = new List<Series>();
        foreach (var run in runs)
        {
            var color = Plots.ColorOf(run.Spec.Norm);
            // The untrained point (step 0, chance accuracy) stays in the CSV but would squash the curves.
            var trained = run.Points.Where(p => p.Step > 0).ToArray();
            var label = runs.Count == 1 ? "" : Choices.Label(run.Spec.Norm) + ", ";
            double[] epochs = [.. trained.Select(p => p.Epoch)];
            accuracy.AddRange(AccuracySeries(run, label));
            loss.Add(new Series(label + "test", color, epochs, [.. trained.Select(p => p.TestLoss)]));
            loss.Add(new Series(label + "train (running)", color, epochs, [.. trained.Select(p => p.TrainLoss)], Dashed: true));
        }
        Plots.TwoPanels(folder, png,
            (title, "epoch", "accuracy", accuracy, ScottPlot.Alignment.LowerRight, AccuracyRange(accuracy)),
            ("Cross-entropy loss", "epoch", "loss", loss, ScottPlot.Alignment.UpperRight, null));
    }

    /// <summary>Test (solid) and running training (dashed) accuracy against epochs, without the untrained point (step 0, chance accuracy, which would squash the curves).</summary>
    private static IEnumerable<Series> AccuracySeries(RunResult run, string label)
    {
        var color = Plots.ColorOf(run.Spec.Norm);
        var trained = run.Points.Where(p => p.Step > 0).ToArray();
        double[] epochs = [.. trained.Select(p => p.Epoch)];
        yield return new Series(label + "test", color, epochs, [.. trained.Select(p => p.TestAccuracy)]);
        yield return new Series(label + "train (running)", color, epochs, [.. trained.Select(p => p.TrainAccuracy)], Dashed: true);
    }

    private static (double, double) AccuracyRange(IEnumerable<Series> accuracy)
    {
        var shown = accuracy.SelectMany(s => s.Y).Where(double.IsFinite).DefaultIfEmpty(0).ToArray();
        return (Math.Max(0, Math.Floor((shown.Min() - 0.02) * 20) / 20), Math.Min(1.0, shown.Max() + 0.03));
    }

    /// <summary>One accuracy panel per learning rate, with and without batch norm in each, on the same vertical scale.</summary>
    private static void WriteCnn(OutputFolder folder, SweepResult cnn)
    {
        folder.WriteText(CnnCsv, CurveTable(cnn.WithBatchNorm.Zip(cnn.WithoutNorm).SelectMany(pair => new[] { pair.First, pair.Second })).ToString());
        var panels = cnn.LearningRates.Select((rate, i) => (Rate: LearningRateSweep.Format(rate),
            Series: AccuracySeries(cnn.WithBatchNorm[i], "with batch norm, ").Concat(AccuracySeries(cnn.WithoutNorm[i], "without, ")).ToList())).ToList();
        var range = AccuracyRange(panels.SelectMany(p => p.Series));
        var (usual, high) = (panels[0], panels[^1]);
        Plots.TwoPanels(folder, CnnPng,
            ($"CNN, Adam lr {usual.Rate}", "epoch", "accuracy", usual.Series, ScottPlot.Alignment.LowerRight, range),
            ($"CNN, Adam lr {high.Rate}", "epoch", "accuracy", high.Series, ScottPlot.Alignment.LowerRight, range));
    }

    private static void WriteMlp(OutputFolder folder, DemoResults results)
    {
        var mlp = results.Mlp;
        folder.WriteText(MlpAccuracyCsv, CurveTable([mlp.WithBatchNorm, mlp.WithoutNorm]).ToString());
        Plots.Lines(folder, MlpAccuracyPng,
            $"Paper MLP (3 × 100 sigmoid, batch 60, SGD lr {LearningRateSweep.Format(mlp.WithBatchNorm.Spec.LearningRate)}): test accuracy",
            "training step", $"test accuracy ({results.EvalSamples:N0} test images)",
            [CurveSeries(mlp.WithBatchNorm, "with batch norm"), CurveSeries(mlp.WithoutNorm, "without batch norm")],
            (results.Budget.TargetAccuracy, $"{Percent(results.Budget.TargetAccuracy)} target"), (0, 1));
    }

    private static Series CurveSeries(RunResult run, string label) =>
        new(label, Plots.ColorOf(run.Spec.Norm), [.. run.Points.Select(p => (double)p.Step)], [.. run.Points.Select(p => p.TestAccuracy)]);

    private static void WritePercentiles(OutputFolder folder, PaperMlpResult mlp)
    {
        var csv = new CsvTable("norm", "step", "p15", "p50", "p85");
        foreach (var (norm, trace) in new[] { (NormKind.None, mlp.NoNormTrace), (NormKind.Batch, mlp.BatchNormTrace) })
        {
            for (int i = 0; i < trace.Steps.Count; i++)
            {
                csv.Row(Choices.Name(norm), trace.Steps[i], trace.P15[i], trace.P50[i], trace.P85[i]);
            }
        }
        folder.WriteText(PercentilesCsv, csv.ToString());
        static (string, double[], double[], double[], double[]) Panel(string title, PercentileTrace t) =>
            (title, [.. t.Steps], [.. t.P15], [.. t.P50], [.. t.P85]);
        Plots.Percentiles(folder, PercentilesPng, $"input to sigmoid unit {mlp.Unit} of hidden layer 3",
            Panel("(b) without batch norm", mlp.NoNormTrace), Panel("(c) with batch norm", mlp.BatchNormTrace));
    }

    private static void WriteSweep(OutputFolder folder, SweepResult sweep)
    {
        var csv = new CsvTable("learning_rate", "norm", "steps", "final_test_accuracy", "final_test_loss");
        for (int i = 0; i < sweep.LearningRates.Length; i++)
        {
            foreach (var r in new[] { sweep.WithBatchNorm[i], sweep.WithoutNorm[i] })
            {
                csv.Row(sweep.LearningRates[i], Choices.Name(r.Spec.Norm), r.StepsDone, r.FinalTestAccuracy, r.FinalTestLoss);
            }
        }
        folder.WriteText(SweepCsv, csv.ToString());
        int fewest = sweep.WithoutNorm.Min(r => r.StepsDone), most = sweep.WithoutNorm.Max(r => r.StepsDone);
        Plots.GroupedBars(folder, SweepPng,
            $"Learning-rate tolerance: paper MLP after {(fewest == most ? $"{most:N0}" : $"{fewest:N0}–{most:N0} (time budget)")} SGD steps",
            "learning rate", "final test accuracy (whole test set)",
            [.. sweep.LearningRates.Select(LearningRateSweep.Format)],
            [
                ("with batch norm", Plots.ColorOf(NormKind.Batch), [.. sweep.WithBatchNorm.Select(r => r.FinalTestAccuracy)]),
                ("without batch norm", Plots.ColorOf(NormKind.None), [.. sweep.WithoutNorm.Select(r => r.FinalTestAccuracy)]),
            ]);
    }

    private static ReportDocument Build(DemoResults results, OutputFolder folder)
    {
        var mlp = results.Mlp;
        var budget = results.Budget;
        double target = budget.TargetAccuracy;
        var doc = new ReportDocument("NormSharp demo: what batch normalization does to training");
        doc.Paragraph($"Run on {DateTime.Now.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)}, {Environment.ProcessorCount} cores, " +
            $".NET {Environment.Version}, budget `{budget.Name}` ({budget.TotalSeconds:0} s of training at most), seed {results.Seed}, " +
            $"{results.TotalSeconds:0} s in all.");
        string curveImages = results.EvalSamples == results.TestSamples ? $"all {results.TestSamples:N0} test images, as the final accuracies"
            : $"the first {results.EvalSamples:N0} test images, final accuracies on all {results.TestSamples:N0}";
        doc.Paragraph($"**Data:** {results.DataDescription}. Training used {results.TrainSamples:N0} images; curves are evaluated on {curveImages}. " +
            "Inputs are standardized with the training set's pixel mean and standard deviation.");

        doc.Heading("Summary");
        doc.Bullets(SummaryLines(results));

        doc.Heading("1. Convergence with and without batch norm (the paper's Figure 1a)");
        doc.Paragraph("The network of the paper's MNIST experiment: 784 → 100 → 100 → 100 → 10, sigmoid units, batch 60, plain SGD " +
            $"(learning rate {LearningRateSweep.Format(mlp.WithBatchNorm.Spec.LearningRate)}), PyTorch's default initialization. With batch norm, " +
            "each hidden layer is Linear → BatchNorm1d → Sigmoid (normalization before the nonlinearity, as in the paper). " +
            $"Each run trains {Sizing(mlp.WithBatchNorm, results.TrainSamples)}: the experiment is sized in epochs of the data it runs on " +
            "(the paper trained 50,000 steps on 60,000 MNIST images, 50 epochs), so that on a small training set it compares " +
            "how fast the two networks learn rather than how much they overfit.");
        doc.Figure(MlpAccuracyPng, "Test accuracy against training steps, with and without batch norm.");
        doc.Table(["run", "steps", $"steps to {Percent(target)}", "final test accuracy", "seconds per epoch"],
            new[] { mlp.WithBatchNorm, mlp.WithoutNorm }.Select(r => new[]
            {
                r.Spec.Name, r.StepsDone.ToString("N0", CultureInfo.InvariantCulture) + (r.StoppedByBudget ? " (time budget)" : ""),
                StepsTo(r, target), F3(r.FinalTestAccuracy), F2(r.SecondsPerEpoch),
            }));

        doc.Heading("2. The input distribution of a sigmoid over training (the paper's Figure 1b, c)");
        doc.Paragraph($"The 15th, 50th and 85th percentiles of the input to sigmoid unit {mlp.Unit} of the last hidden layer, over " +
            $"{budget.ProbeSamples:N0} fixed test images, measured in evaluation mode at every evaluation step. Without batch norm the " +
            "distribution moves as the layers below it change (internal covariate shift); with batch norm it stays put, so the layer " +
            "above trains against a stable input.");
        doc.Figure(PercentilesPng, "Percentiles {15, 50, 85} of a last-hidden-layer sigmoid's input: (b) without, (c) with batch norm.");
        doc.Table(["run", "median at start", "median at end", "15–85 spread at start", "15–85 spread at end"],
            new[] { ("no norm", mlp.NoNormTrace), ("batch norm", mlp.BatchNormTrace) }.Select(t => new[]
            {
                t.Item1, F2(t.Item2.P50.FirstOrDefault(double.NaN)), F2(t.Item2.P50.LastOrDefault(double.NaN)),
                F2(t.Item2.P85.FirstOrDefault(double.NaN) - t.Item2.P15.FirstOrDefault(double.NaN)),
                F2(t.Item2.P85.LastOrDefault(double.NaN) - t.Item2.P15.LastOrDefault(double.NaN)),
            }));

        var sweep = results.Sweep;
        doc.Heading("3. Learning-rate tolerance");
        doc.Paragraph($"The same network trained for {Sizing(budget.SweepSteps, sweep.WithoutNorm[0].StepsPerEpoch, results.TrainSamples)} at each learning rate " +
            "(fewer where the time budget stopped the batch-norm run; the plain run then takes as many, see the table). Batch norm makes a layer's output " +
            "invariant to the scale of its weights, so large learning rates that saturate the plain network's sigmoids still train.");
        doc.Figure(SweepPng, "Final test accuracy at each learning rate, with and without batch norm.");
        doc.Table(["learning rate", "steps", "with batch norm", "without batch norm"],
            sweep.LearningRates.Select((rate, i) => new[]
            {
                LearningRateSweep.Format(rate), PairSteps(sweep.WithBatchNorm[i], sweep.WithoutNorm[i]),
                F3(sweep.WithBatchNorm[i].FinalTestAccuracy), F3(sweep.WithoutNorm[i].FinalTestAccuracy),
            }));

        doc.Heading("4. A small CNN with and without batch norm");
        var cnn = results.Cnn;
        doc.Paragraph("Conv 3×3 (32) → BatchNorm2d → ReLU → MaxPool 2 → Conv 3×3 (64) → BatchNorm2d → ReLU → MaxPool 2 → Linear 3136→128 → BatchNorm1d → ReLU → Dropout 0.3 → Linear 128→10, " +
            $"and the same network without the three batch-norm layers; Adam, batch {cnn.WithBatchNorm[0].Spec.BatchSize}, {Sizing(budget.CnnSteps, cnn.WithoutNorm[0].StepsPerEpoch, results.TrainSamples)} per run " +
            "(fewer where the time budget stopped the batch-norm run; the plain run then takes as many), " +
            $"at Adam's usual learning rate {LearningRateSweep.Format(cnn.LearningRates[0])} and at {LearningRateSweep.Format(cnn.LearningRates[^1])}, " +
            "a rate batch norm tolerates and the plain network does not.");
        doc.Figure(CnnPng, "CNN accuracy against epochs at each learning rate, with (blue) and without (red) batch norm: test (solid) and running training average (dashed).");
        doc.Table(["learning rate", "steps", "with batch norm", "without batch norm"],
            cnn.LearningRates.Select((rate, i) => new[]
            {
                LearningRateSweep.Format(rate), PairSteps(cnn.WithBatchNorm[i], cnn.WithoutNorm[i]),
                F3(cnn.WithBatchNorm[i].FinalTestAccuracy), F3(cnn.WithoutNorm[i].FinalTestAccuracy),
            }));

        if (results.SmallBatch is { } smallBatch)
        {
            SmallBatchReport.AddSection(doc, smallBatch, "5. Small batches: batch norm, batch renorm, ghost batch norm, group norm");
        }
        if (results.Sequence is { } sequence)
        {
            SequenceReport.AddSection(doc, sequence);
        }

        doc.Heading("All runs");
        doc.Table(["run", "steps", $"steps to {Percent(target)}", "final test accuracy", "s / epoch", "train s", "total s"],
            AllRuns(results).Select(r => new[]
            {
                r.Spec.Name, r.StepsDone.ToString("N0", CultureInfo.InvariantCulture) + (r.StoppedByBudget ? "*" : ""), StepsTo(r, target),
                F3(r.FinalTestAccuracy), F2(r.SecondsPerEpoch), F1(r.TrainSeconds), F1(r.TotalSeconds),
            }));
        doc.Paragraph("\\* stopped by the time budget. Seconds per epoch count training steps only (forward, backward, update), not evaluation.");

        doc.Heading("Files");
        doc.Bullets(folder.Files.Concat([ReportMd, ReportHtml]).Select(f => $"`{f}`"));
        return doc;
    }

    /// <summary>The headline numbers, for the report and the terminal.</summary>
    public static IEnumerable<string> SummaryLines(DemoResults results)
    {
        var mlp = results.Mlp;
        double target = results.Budget.TargetAccuracy;
        int? bnSteps = mlp.WithBatchNorm.StepsToAccuracy(target), noSteps = mlp.WithoutNorm.StepsToAccuracy(target);
        string ratio = (bnSteps, noSteps) switch
        {
            (int b, int n) when b > 0 => $": **{(double)n / b:0.#}× fewer steps** with batch norm",
            (int, null) => "",
            _ => "",
        };
        yield return $"Paper MLP, steps to {Percent(target)} test accuracy: with batch norm {StepsTo(mlp.WithBatchNorm, target)}, without batch norm {StepsTo(mlp.WithoutNorm, target)}{ratio}.";
        // Each run's own steps: under a loaded machine the time budget can stop the plain run before it reaches the batch-norm run's count.
        yield return $"Paper MLP, final test accuracy: with batch norm **{F3(mlp.WithBatchNorm.FinalTestAccuracy)}** after {Sizing(mlp.WithBatchNorm, results.TrainSamples)}, " +
            $"without **{F3(mlp.WithoutNorm.FinalTestAccuracy)}** after {Sizing(mlp.WithoutNorm, results.TrainSamples)}.";
        var sweep = results.Sweep;
        int bestBn = Array.IndexOf(sweep.WithBatchNorm, sweep.WithBatchNorm.MaxBy(r => Score(r.FinalTestAccuracy))!);
        int bestNone = Array.IndexOf(sweep.WithoutNorm, sweep.WithoutNorm.MaxBy(r => Score(r.FinalTestAccuracy))!);
        yield return $"Learning-rate sweep: best with batch norm {F3(sweep.WithBatchNorm[bestBn].FinalTestAccuracy)} at lr {LearningRateSweep.Format(sweep.LearningRates[bestBn])}, " +
            $"without {F3(sweep.WithoutNorm[bestNone].FinalTestAccuracy)} at lr {LearningRateSweep.Format(sweep.LearningRates[bestNone])}; " +
            $"at the largest rate ({LearningRateSweep.Format(sweep.LearningRates[^1])}): {F3(sweep.WithBatchNorm[^1].FinalTestAccuracy)} vs {F3(sweep.WithoutNorm[^1].FinalTestAccuracy)}.";
        var cnn = results.Cnn;
        yield return $"CNN, final test accuracy with vs without batch norm: at Adam lr {LearningRateSweep.Format(cnn.LearningRates[0])} after {Sizing(cnn.WithoutNorm[0], results.TrainSamples)} " +
            $"**{F3(cnn.WithBatchNorm[0].FinalTestAccuracy)}** vs **{F3(cnn.WithoutNorm[0].FinalTestAccuracy)}**, at lr {LearningRateSweep.Format(cnn.LearningRates[^1])} after {Sizing(cnn.WithoutNorm[^1], results.TrainSamples)} " +
            $"**{F3(cnn.WithBatchNorm[^1].FinalTestAccuracy)}** vs **{F3(cnn.WithoutNorm[^1].FinalTestAccuracy)}**.";
        if (results.SmallBatch is { } smallBatch)
        {
            yield return SmallBatchReport.SummaryLine(smallBatch);
        }
        foreach (var line in results.Sequence is { } sequence ? SequenceReport.SummaryLines(sequence) : [])
        {
            yield return line;
        }
        yield return $"Time per epoch (training only): paper MLP {F1(mlp.WithoutNorm.SecondsPerEpoch)} s without, {F1(mlp.WithBatchNorm.SecondsPerEpoch)} s with batch norm.";
    }

    /// <summary>"1,000 steps (10 epochs of 6,000 training images)": how long a run trained; a run stopped by the time budget is sized by what it did.</summary>
    public static string Sizing(RunResult run, int trainSamples) => Sizing(run.StepsDone, run.StepsPerEpoch, trainSamples);

    /// <summary>"1,000 steps (10 epochs of 6,000 training images)".</summary>
    public static string Sizing(int steps, int stepsPerEpoch, int trainSamples) =>
        $"{steps.ToString("N0", CultureInfo.InvariantCulture)} steps ({((double)steps / stepsPerEpoch).ToString("0.##", CultureInfo.InvariantCulture)} epochs " +
        $"of {trainSamples.ToString("N0", CultureInfo.InvariantCulture)} training images)";

    /// <summary>"1,000", or "138 / 119" (with / without batch norm) where the time budget stopped the plain run first.</summary>
    private static string PairSteps(RunResult withBatchNorm, RunResult withoutNorm) =>
        withBatchNorm.StepsDone == withoutNorm.StepsDone ? withBatchNorm.StepsDone.ToString("N0", CultureInfo.InvariantCulture)
            : $"{withBatchNorm.StepsDone.ToString("N0", CultureInfo.InvariantCulture)} / {withoutNorm.StepsDone.ToString("N0", CultureInfo.InvariantCulture)}";

    /// <summary>"80%": a fraction as a whole percentage, no culture-dependent space.</summary>
    public static string Percent(double fraction) => (fraction * 100).ToString("0.#", CultureInfo.InvariantCulture) + "%";

    private static double Score(double accuracy) => double.IsFinite(accuracy) ? accuracy : -1;

    private static string StepsTo(RunResult run, double target) =>
        run.StepsToAccuracy(target) is int s ? s.ToString("N0", CultureInfo.InvariantCulture) : $"not reached in {run.StepsDone:N0} steps";

    public static string F1(double value) => double.IsFinite(value) ? value.ToString("0.0", CultureInfo.InvariantCulture) : "n/a";

    public static string F2(double value) => double.IsFinite(value) ? value.ToString("0.00", CultureInfo.InvariantCulture) : "n/a";

    public static string F3(double value) => double.IsFinite(value) ? value.ToString("0.000", CultureInfo.InvariantCulture) : "n/a";
}
