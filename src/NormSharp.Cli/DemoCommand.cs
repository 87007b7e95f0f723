using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using NormSharp.Cli.Experiments;
using NormSharp.Cli.Reporting;
using Spectre.Console;

namespace NormSharp.Cli;

/// <summary>Settings of one demo run.</summary>
/// <param name="Preloaded">Data already in memory (tests); null to resolve --data / Debian / embedded.</param>
internal sealed record DemoSettings(DemoBudget Budget, string? OutputDirectory, string? DataDirectory, int Seed, LoadedData? Preloaded = null);

/// <summary>
/// <c>normsharp demo</c>: the batch norm paper's experiments on Fashion-MNIST, with progress bars,
/// a summary table, figures, CSV files and a report (Markdown and HTML) in a fresh output folder.
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var quick = new Option<bool>("--quick") { Description = "A smaller run that finishes within a minute (6,000 training images, fewer steps)." };
        var output = CommonOptions.Out();
        var data = CommonOptions.Data();
        var seed = CommonOptions.Seed();
        var command = new Command("demo",
            "Train the same networks with and without batch norm and write figures and a report: convergence (paper Figure 1a), " +
            "sigmoid input percentiles (Figure 1b, c), learning-rate tolerance, a small CNN, and batch norm, renorm, ghost and group norm at batch sizes 2 to 64. About 10 minutes; --quick: 1 minute.")
        {
            quick, output, data, seed,
        };
        command.SetAction(parse => Run(
            new DemoSettings(parse.GetValue(quick) ? DemoBudget.Quick : DemoBudget.Full, parse.GetValue(output), parse.GetValue(data), parse.GetValue(seed)),
            AnsiConsole.Console));
        return command;
    }

    /// <summary>Runs the demo; returns the process exit code.</summary>
    public static int Run(DemoSettings settings, IAnsiConsole console, CancellationToken cancellation = default) =>
        CommandRunner.Run(console, interrupt =>
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation, interrupt);
            Execute(settings, console, stop.Token);
            return 0;
        });

    /// <summary>Runs the demo and returns the folder it wrote.</summary>
    public static OutputFolder Execute(DemoSettings settings, IAnsiConsole console, CancellationToken cancellation = default)
    {
        var clock = Stopwatch.StartNew();
        var budget = settings.Budget;
        // The budget runs from the start: loading the data counts, writing the figures (a few seconds) does not.
        var time = new TimeBudget(budget.TotalSeconds);
        ConsoleSetup.Heading(console, "[bold]NormSharp demo[/]: batch normalization (Ioffe & Szegedy, 2015) on Fashion-MNIST");
        var loaded = CommonOptions.LoadData(console, settings.DataDirectory, settings.Preloaded);
        var folder = OutputFolder.Create(settings.OutputDirectory, DateTime.Now);
        var train = budget.TrainSamples is int limit ? loaded.Train.Take(limit) : loaded.Train;
        var test = budget.TestSamples is int testLimit ? loaded.Test.Take(testLimit) : loaded.Test;
        budget = budget.SizedFor(train.Count);
        var data = new ExperimentData(train, test, test.Take(budget.EvalSamples), test.Take(budget.ProbeSamples));
        console.MarkupLine($"[bold]Budget:[/] {budget.Name}, at most {budget.TotalSeconds:0} s of training on {Environment.ProcessorCount} cores " +
            $"({train.Count:N0} training and {test.Count:N0} test images; paper MLP {budget.MlpSteps:N0} steps per run, {budget.SweepLearningRates.Length} learning rates × 2 × {budget.SweepSteps:N0} steps, CNN 4 × {budget.CnnSteps:N0} steps)");
        console.MarkupLine($"[bold]Output:[/] {Markup.Escape(folder.Path)}");

        var (mlpShare, sweepShare, cnnShare) = budget.Shares;
        double smallShare = budget.SmallBatchShare;
        double sequenceShare = budget.SequenceShare;
        PaperMlpResult? mlp = null;
        SweepResult? sweep = null;
        SweepResult? cnn = null;
        SmallBatchResult? smallBatch = null;
        SequenceResult? sequence = null;
        RunProgress.Display(console, Bar =>
        {
            var bnBar = Bar("paper MLP, batch norm", budget.MlpSteps);
            var noneBar = Bar("paper MLP, no norm", budget.MlpSteps);
            var sweepBars = LearningRateSweep.RunNames(LearningRateSweep.Prefix, budget.SweepLearningRates).Select(n => Bar(n, budget.SweepSteps)).ToList();
            var cnnBars = LearningRateSweep.RunNames(CnnExperiment.Prefix, CnnExperiment.LearningRates(budget)).Select(n => Bar(n, budget.CnnSteps)).ToList();
            // A section with no share of the time (--quick) does not run; the report then leaves it out.
            var smallBars = smallShare > 0 ? SmallBatchExperiment.RunNames(budget.SmallBatch).Select(n => Bar(n, 1)).ToList() : null;
            var sequenceBars = sequenceShare > 0 ? SequenceExperiment.RunNames().Select(n => Bar(n, budget.SequenceSteps)).ToList() : null;

            double left = mlpShare + sweepShare + cnnShare + smallShare + sequenceShare;
            mlp = PaperMlpExperiment.Run(data, budget, settings.Seed, time.StageDeadline(mlpShare, left), bnBar, noneBar, cancellation);
            left -= mlpShare;
            sweep = LearningRateSweep.Run(data, budget, settings.Seed, time.StageDeadline(sweepShare, left), sweepBars, cancellation);
            left -= sweepShare;
            cnn = CnnExperiment.Run(data, budget, settings.Seed, time.StageDeadline(cnnShare, left), cnnBars, cancellation);
            left -= cnnShare;
            if (smallBars is not null)
            {
                smallBatch = SmallBatchExperiment.Run(data, budget, settings.Seed, time.StageDeadline(smallShare, left), smallBars, cancellation);
                left -= smallShare;
            }
            if (sequenceBars is not null)
            {
                sequence = SequenceExperiment.Run(data, budget, settings.Seed, time.StageDeadline(sequenceShare, left), sequenceBars, cancellation);
            }
        });
        if (cancellation.IsCancellationRequested)
        {
            folder.RemoveIfEmpty();
            throw new OperationCanceledException("the demo writes its figures and report when every experiment has run, so nothing was written.");
        }

        var results = new DemoResults(loaded.Description, budget, settings.Seed, train.Count, test.Count, mlp!, sweep!, cnn!, 0)
        {
            SmallBatch = smallBatch,
            Sequence = sequence,
        };
        console.Status().Start("Writing figures and report ...", _ => DemoReport.WriteAll(folder, results with { TotalSeconds = clock.Elapsed.TotalSeconds }));
        PrintSummary(console, results, folder, clock.Elapsed);
        return folder;
    }

    private static void PrintSummary(IAnsiConsole console, DemoResults results, OutputFolder folder, TimeSpan elapsed)
    {
        double target = results.Budget.TargetAccuracy;
        var table = new Table().Border(TableBorder.Rounded).Title("[bold]Summary[/]");
        table.AddColumn("run");
        table.AddColumn(new TableColumn("steps").RightAligned());
        table.AddColumn(new TableColumn($"steps to {DemoReport.Percent(target)}").RightAligned());
        table.AddColumn(new TableColumn("test accuracy").RightAligned());
        table.AddColumn(new TableColumn("s / epoch").RightAligned());
        foreach (var run in DemoReport.AllRuns(results))
        {
            var color = run.Spec.Norm == NormKind.Batch ? "blue" : "red";
            table.AddRow(
                $"[{color}]{Markup.Escape(run.Spec.Name)}[/]",
                run.StepsDone.ToString("N0", CultureInfo.InvariantCulture) + (run.StoppedByBudget ? "[yellow]*[/]" : ""),
                run.StepsToAccuracy(target)?.ToString("N0", CultureInfo.InvariantCulture) ?? "[grey]–[/]",
                DemoReport.F3(run.FinalTestAccuracy),
                DemoReport.F1(run.SecondsPerEpoch));
        }
        console.Write(table);
        if (DemoReport.AllRuns(results).Any(r => r.StoppedByBudget))
        {
            console.MarkupLine("[yellow]*[/] stopped by the time budget");
        }
        foreach (var line in DemoReport.SummaryLines(results))
        {
            console.MarkupLine(" • " + Markup.Escape(line.Replace("**", "", StringComparison.Ordinal)));
        }
        console.MarkupLine($"[bold]Done in {elapsed.TotalSeconds:0} s.[/] Open [link]{Markup.Escape(folder.PathOf(DemoReport.ReportHtml))}[/] for the figures.");
    }
}
