using System.CommandLine;
using System.Globalization;
using NormSharp.Cli.Experiments;
using NormSharp.Cli.Reporting;
using Spectre.Console;

namespace NormSharp.Cli;

/// <summary>Settings of <c>normsharp compare</c>.</summary>
internal sealed record CompareSettings(
    ModelKind Model, NormKind[] Norms, OptimizerKind Optimizer, int Epochs, int BatchSize, double LearningRate,
    double Momentum, double WeightDecay, int Seed, string? DataDirectory, string? OutputDirectory, int? TrainLimit, int EvalSamples = 2000, LoadedData? Preloaded = null);

/// <summary>
/// <c>normsharp compare --norm batch,layer,group,none</c>: trains the same network (same seed, same
/// batches) with each normalization and plots the curves together.
/// </summary>
internal static class CompareCommand
{
    public const string CurvesPng = "compare-curves.png";
    public const string CurvesCsv = "compare-curves.csv";

    public static Command Create()
    {
        var model = CommonOptions.Model("mlp");
        var norms = new Option<string>("--norm") { Description = "Comma-separated normalizations to compare: none, batch, layer, group, instance, renorm (batch renormalization), ghost (ghost batch norm).", DefaultValueFactory = _ => "batch,layer,group,none", HelpName = "LIST" };
        var epochs = CommonOptions.Epochs(2);
        var batchSize = CommonOptions.BatchSize();
        var lr = CommonOptions.LearningRate();
        var optimizer = CommonOptions.Optimizer();
        var momentum = CommonOptions.Momentum();
        var weightDecay = CommonOptions.WeightDecay();
        var seed = CommonOptions.Seed();
        var data = CommonOptions.Data();
        var output = CommonOptions.Out();
        var limit = CommonOptions.TrainLimit();
        var command = new Command("compare", "Train the same network with each normalization and plot them together.")
        {
            model, norms, epochs, batchSize, lr, optimizer, momentum, weightDecay, seed, data, output, limit,
        };
        command.SetAction(parse => CommandRunner.Run(AnsiConsole.Console, cancellation =>
        {
            var optimizerKind = Choices.ParseOptimizer(parse.GetValue(optimizer)!);
            var settings = new CompareSettings(
                Choices.ParseModel(parse.GetValue(model)!), Choices.ParseNormList(parse.GetValue(norms)!), optimizerKind,
                parse.GetValue(epochs), parse.GetValue(batchSize), parse.GetValue(lr) ?? CommonOptions.DefaultLearningRate(optimizerKind),
                parse.GetValue(momentum), parse.GetValue(weightDecay), parse.GetValue(seed), parse.GetValue(data), parse.GetValue(output), parse.GetValue(limit));
            Execute(settings, AnsiConsole.Console, cancellation);
            return 0;
        }));
        return command;
    }

    public static (List<RunResult> Results, OutputFolder Folder) Execute(CompareSettings settings, IAnsiConsole console, CancellationToken cancellation = default)
    {
        TrainCommand.Validate(settings.Epochs, settings.BatchSize, settings.LearningRate);
        RunChecks.Validate(settings.Momentum, settings.WeightDecay, settings.TrainLimit);
        var loaded = CommonOptions.LoadData(console, settings.DataDirectory, settings.Preloaded);
        var train = settings.TrainLimit is int limit ? loaded.Train.Take(limit) : loaded.Train;
        var evalSet = loaded.Test.Take(settings.EvalSamples);
        int stepsPerEpoch = RunChecks.StepsPerEpoch(train.Count, settings.BatchSize);
        int steps = RunChecks.TotalSteps(settings.Epochs, stepsPerEpoch);
        var specs = settings.Norms.Select(norm => new RunSpec($"{Choices.Name(settings.Model)}, {Choices.Label(norm)}", settings.Model, norm, settings.Optimizer,
            settings.LearningRate, settings.BatchSize, settings.Seed, settings.Optimizer == OptimizerKind.Sgd ? settings.Momentum : 0, settings.WeightDecay)).ToList();
        foreach (var spec in specs)
        {
            _ = Models.Create(spec.Model, spec.Norm, train.SampleShape, loaded.Train.ClassCount, new Generator(0));
        }
        var folder = OutputFolder.Create(settings.OutputDirectory, DateTime.Now);
        console.MarkupLine($"[bold]Comparing[/] {string.Join(", ", settings.Norms.Select(Choices.Label))} on {Choices.Name(settings.Model)}: " +
            $"{Choices.Name(settings.Optimizer)} lr {settings.LearningRate.ToString("G4", CultureInfo.InvariantCulture)}, batch {settings.BatchSize}, " +
            $"{settings.Epochs.Counted("epoch")} × {stepsPerEpoch.Counted("step")}; output {Markup.Escape(folder.Path)}");

        var results = new List<RunResult>();
        try
        {
            RunProgress.Display(console, bar =>
            {
                var bars = specs.Select(s => bar(s.Name, steps)).ToList();
                for (int i = 0; i < specs.Count && !cancellation.IsCancellationRequested; i++)
                {
                    var result = Trainer.Run(specs[i], train, loaded.Test, evalSet, steps, EvalSchedule.PerEpoch(stepsPerEpoch, 4), null, bars[i].Observer(), cancellation,
                        stopOnNonFiniteLoss: true);
                    bars[i].Complete(result);
                    results.Add(result);
                }
            });
            // The curves and table compare whole runs only: an interrupted comparison writes nothing.
            cancellation.ThrowIfCancellationRequested();
        }
        catch (Exception ex) when (ex is OperationCanceledException or TrainingDivergedException)
        {
            folder.RemoveIfEmpty();
            if (ex is OperationCanceledException)
            {
                throw new OperationCanceledException("stopped before every run finished; a comparison writes its files only when all have, so nothing was written.", ex);
            }
            throw;
        }

        DemoReport.WriteCurves(folder, CurvesPng, CurvesCsv, $"{Choices.Name(settings.Model)}: normalizations compared", results);
        folder.WriteText("runs.csv", DemoReport.RunsTable(results).ToString());

        var table = new Table().Border(TableBorder.Rounded);
        table.AddColumn("normalization");
        table.AddColumn(new TableColumn("final test accuracy").RightAligned());
        table.AddColumn(new TableColumn("final test loss").RightAligned());
        table.AddColumn(new TableColumn("s / epoch").RightAligned());
        foreach (var r in results)
        {
            table.AddRow(Choices.Label(r.Spec.Norm), DemoReport.F3(r.FinalTestAccuracy), DemoReport.F3(r.FinalTestLoss), DemoReport.F1(r.SecondsPerEpoch));
        }
        console.Write(table);
        console.MarkupLine($"Wrote {string.Join(", ", folder.Files)} to {Markup.Escape(folder.Path)}");
        return (results, folder);
    }
}
