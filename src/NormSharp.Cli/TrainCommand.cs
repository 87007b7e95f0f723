using System.CommandLine;
using System.Globalization;
using NormSharp.Cli.Experiments;
using NormSharp.Cli.Reporting;
using NormSharp.Nn;
using Spectre.Console;

namespace NormSharp.Cli;

/// <summary>Settings of <c>normsharp train</c>.</summary>
internal sealed record TrainSettings(
    ModelKind Model, NormKind Norm, OptimizerKind Optimizer, int Epochs, int BatchSize, double LearningRate,
    double Momentum, double WeightDecay, int Seed, string? DataDirectory, string? OutputDirectory, int? TrainLimit, LoadedData? Preloaded = null, string? Resume = null);

/// <summary>
/// <c>normsharp train</c>: trains one network, printing loss and accuracy after every epoch, and
/// writes its curves and a checkpoint (<c>model.safetensors</c>: model, optimizer state, epochs trained) to
/// the output folder; <c>--resume PATH</c> continues from such a checkpoint.
/// </summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model("mlp");
        var norm = new Option<string>("--norm") { Description = "Normalization before each activation: none, batch, layer, group, instance, renorm (batch renormalization), ghost (ghost batch norm).", DefaultValueFactory = _ => "batch", HelpName = "none|batch|layer|group|instance|renorm|ghost" };
        var epochs = CommonOptions.Epochs(3);
        var batchSize = CommonOptions.BatchSize();
        var lr = CommonOptions.LearningRate();
        var optimizer = CommonOptions.Optimizer();
        var momentum = CommonOptions.Momentum();
        var weightDecay = CommonOptions.WeightDecay();
        var seed = CommonOptions.Seed();
        var data = CommonOptions.Data();
        var output = CommonOptions.Out();
        var limit = CommonOptions.TrainLimit();
        var resume = new Option<string?>("--resume")
        {
            Description = "Continue from a checkpoint written by train (model, optimizer state, epochs done); use the same --model, --norm, --optimizer and --seed.",
            HelpName = "PATH",
        };
        var command = new Command("train", "Train one network and print per-epoch loss and accuracy.")
        {
            model, norm, epochs, batchSize, lr, optimizer, momentum, weightDecay, seed, data, output, limit, resume,
        };
        command.SetAction(parse => CommonOptions.Guard(AnsiConsole.Console, () =>
        {
            var optimizerKind = Choices.ParseOptimizer(parse.GetValue(optimizer)!);
            var settings = new TrainSettings(
                Choices.ParseModel(parse.GetValue(model)!), Choices.ParseNorm(parse.GetValue(norm)!), optimizerKind,
                parse.GetValue(epochs), parse.GetValue(batchSize), parse.GetValue(lr) ?? CommonOptions.DefaultLearningRate(optimizerKind),
                parse.GetValue(momentum), parse.GetValue(weightDecay), parse.GetValue(seed), parse.GetValue(data), parse.GetValue(output), parse.GetValue(limit), Resume: parse.GetValue(resume));
            Execute(settings, AnsiConsole.Console);
            return 0;
        }));
        return command;
    }

    /// <summary>Trains as <paramref name="settings"/> says; returns the run and the folder written.</summary>
    public static (RunResult Result, OutputFolder Folder) Execute(TrainSettings settings, IAnsiConsole console, CancellationToken cancellation = default)
    {
        Validate(settings.Epochs, settings.BatchSize, settings.LearningRate);
        var loaded = CommonOptions.LoadData(console, settings.DataDirectory, settings.Preloaded);
        var train = settings.TrainLimit is int limit ? loaded.Train.Take(limit) : loaded.Train;
        int stepsPerEpoch = train.Count / settings.BatchSize;
        var spec = new RunSpec($"{Choices.Name(settings.Model)}, {Choices.Label(settings.Norm)}", settings.Model, settings.Norm, settings.Optimizer,
            settings.LearningRate, settings.BatchSize, settings.Seed, settings.Optimizer == OptimizerKind.Sgd ? settings.Momentum : 0, settings.WeightDecay);
        // Fail on a bad model/norm combination before any data work is wasted.
        _ = Models.Create(spec.Model, spec.Norm, train.SampleShape, loaded.Train.ClassCount, new Generator(0));
        var folder = OutputFolder.Create(settings.OutputDirectory, DateTime.Now);
        console.MarkupLine($"[bold]Training[/] {Markup.Escape(spec.Name)}: {Choices.Name(spec.Optimizer)} lr {spec.LearningRate.ToString("G4", CultureInfo.InvariantCulture)}, " +
            $"batch {spec.BatchSize}, {settings.Epochs} epochs × {stepsPerEpoch:N0} steps, seed {spec.Seed}; output {Markup.Escape(folder.Path)}");

        RunResult? result = null;
        RunProgress.Display(console, bar =>
        {
            var progress = bar(spec.Name, settings.Epochs * stepsPerEpoch);
            var observer = progress.Observer((point, _) =>
            {
                if (point.Step > 0)
                {
                    console.MarkupLine(
                        $"epoch {point.Epoch,3:0}  train loss {point.TrainLoss:0.0000}  train acc {point.TrainAccuracy:0.0000}  " +
                        $"[bold]test loss {point.TestLoss:0.0000}  test acc {point.TestAccuracy:0.0000}[/]  {point.Seconds:0} s");
                }
            });
            result = Trainer.Run(spec, train, loaded.Test, loaded.Test, settings.Epochs * stepsPerEpoch, stepsPerEpoch, null, observer, cancellation, settings.Resume);
            progress.Complete(result);
        });

        var run = result!;
        DemoReport.WriteCurves(folder, "train-curves.png", "train-curves.csv", $"{spec.Name}: training and test curves", [run]);
        folder.WriteText("runs.csv", DemoReport.RunsTable([run]).ToString());
        SaveCheckpoint(run, folder, console);
        console.MarkupLine($"[bold]Final test accuracy {DemoReport.F3(run.FinalTestAccuracy)}[/], {DemoReport.F1(run.SecondsPerEpoch)} s per epoch. Wrote {string.Join(", ", folder.Files)} to {Markup.Escape(folder.Path)}");
        return (run, folder);
    }

    private static void SaveCheckpoint(RunResult result, OutputFolder folder, IAnsiConsole console)
    {
        string path = folder.Write("model.safetensors", temporary => Trainer.SaveCheckpoint(result, temporary));
        console.MarkupLine($"Checkpoint after {result.EpochsDone} epochs: {Markup.Escape(path)} (resume with --resume)");
    }

    public static void Validate(int epochs, int batchSize, double learningRate)
    {
        if (epochs <= 0)
        {
            throw new ArgumentException($"--epochs must be > 0, got {epochs}.");
        }
        if (batchSize <= 1)
        {
            throw new ArgumentException($"--batch-size must be > 1 (batch norm needs more than one sample per batch), got {batchSize}.");
        }
        if (!(learningRate > 0) || !double.IsFinite(learningRate))
        {
            throw new ArgumentException($"--lr must be a positive number, got {learningRate}.");
        }
    }
}
