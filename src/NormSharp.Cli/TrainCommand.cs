using System.CommandLine;
using System.Globalization;
using NormSharp.Cli.Experiments;
using NormSharp.Cli.Reporting;
using NormSharp.Distributed;
using NormSharp.Nn;
using Spectre.Console;

namespace NormSharp.Cli;

/// <summary>Settings of <c>normsharp train</c>.</summary>
internal sealed record TrainSettings(
    ModelKind Model, NormKind Norm, OptimizerKind Optimizer, int Epochs, int BatchSize, double LearningRate,
    double Momentum, double WeightDecay, int Seed, string? DataDirectory, string? OutputDirectory, int? TrainLimit, LoadedData? Preloaded = null, string? Resume = null,
    int Replicas = 1, bool Distributed = false);

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
            Description = "Continue from a checkpoint written by train (model, optimizer state, epochs done) with the same --model, --norm and --optimizer; " +
                "--lr, --momentum and --weight-decay given here override the checkpoint's (without --lr, its learning rate is kept).",
            HelpName = "PATH",
        };
        var replicas = new Option<int>("--replicas")
        {
            Description = "Train data-parallel on N thread replicas of this process, each on batch-size / N samples of every batch, with synchronized batch norm.",
            DefaultValueFactory = _ => 1,
            HelpName = "N",
        };
        var distributed = new Option<bool>("--distributed")
        {
            Description = "Train data-parallel on the ranks of an MPI job: mpiexec -n N normsharp train ... --distributed (MPICH; rank 0 prints and writes).",
        };
        var command = new Command("train", "Train one network and print per-epoch loss and accuracy.")
        {
            model, norm, epochs, batchSize, lr, optimizer, momentum, weightDecay, seed, data, output, limit, resume, replicas, distributed,
        };
        command.SetAction(parse => CommandRunner.Run(AnsiConsole.Console, cancellation =>
        {
            var optimizerKind = Choices.ParseOptimizer(parse.GetValue(optimizer)!);
            string? resumePath = parse.GetValue(resume);
            // Options override the checkpoint; without --lr a resumed run keeps the checkpoint's rate.
            double? givenRate = parse.GetValue(lr);
            double learningRate = givenRate ?? CommonOptions.DefaultLearningRate(optimizerKind);
            if (givenRate is null && resumePath is not null && TrainingCheckpoint.Read(resumePath).LearningRate is var saved && double.IsFinite(saved))
            {
                learningRate = saved;
            }
            var settings = new TrainSettings(
                Choices.ParseModel(parse.GetValue(model)!), Choices.ParseNorm(parse.GetValue(norm)!), optimizerKind,
                parse.GetValue(epochs), parse.GetValue(batchSize), learningRate,
                parse.GetValue(momentum), parse.GetValue(weightDecay), parse.GetValue(seed), parse.GetValue(data), parse.GetValue(output), parse.GetValue(limit), Resume: resumePath,
                Replicas: parse.GetValue(replicas), Distributed: parse.GetValue(distributed));
            Execute(settings, AnsiConsole.Console, cancellation);
            return 0;
        }));
        return command;
    }

    /// <summary>
    /// Trains as <paramref name="settings"/> says, writing a checkpoint after every epoch; returns the run and the
    /// folder written. With replicas or distributed, every rank trains and rank 0 alone prints, writes and returns (the
    /// other MPI ranks return a result without folder). Options and inputs are checked before the output folder is created; a run that fails or is
    /// interrupted keeps the checkpoint of its last completed epoch (and leaves no folder if it completed none).
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellation"/> stopped the run; the message says what was kept.</exception>
    /// <exception cref="TrainingDivergedException">The training loss became NaN or infinite; the message names the step, the learning rate and the checkpoint kept.</exception>
    public static (RunResult Result, OutputFolder Folder) Execute(TrainSettings settings, IAnsiConsole console, CancellationToken cancellation = default)
    {
        if (settings.Replicas < 1 || (settings.Replicas > 1 && settings.Distributed))
        {
            throw new ArgumentException($"--replicas must be >= 1 and cannot be combined with --distributed, got --replicas {settings.Replicas}{(settings.Distributed ? " --distributed" : "")}.");
        }
        if (settings.Distributed)
        {
            using var group = ProcessGroup.Mpi();
            return ExecuteRank(settings, console, cancellation, group);
        }
        if (settings.BatchSize % settings.Replicas != 0)
        {
            throw new ArgumentException(
                $"--batch-size {settings.BatchSize} must be a multiple of the number of replicas ({settings.Replicas}): each replica trains on batch-size / replicas samples of every batch.");
        }
        if (settings.Replicas == 1)
        {
            return ExecuteRank(settings, console, cancellation, null);
        }
        (RunResult, OutputFolder) first = default;
        ProcessGroup.RunThreads(settings.Replicas, group =>
        {
            var result = ExecuteRank(settings, console, cancellation, group);
            if (group.Rank == 0)
            {
                first = result;
            }
        });
        return first;
    }

    private static (RunResult Result, OutputFolder Folder) ExecuteRank(TrainSettings settings, IAnsiConsole console, CancellationToken cancellation, ProcessGroup? group)
    {
        try
        {
            return ExecuteRank(settings, group is { Rank: > 0 } ? SilentConsole() : console, cancellation, group, writes: group is not { Rank: > 0 });
        }
        catch (Exception error) when (group is { Backend: "mpi", WorldSize: > 1 })
        {
            // The other ranks would wait for this one in their next collective: end the whole job.
            group.Abort(error);
            throw;
        }
    }

    private static IAnsiConsole SilentConsole() => AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(TextWriter.Null) });

    private static (RunResult Result, OutputFolder Folder) ExecuteRank(TrainSettings settings, IAnsiConsole console, CancellationToken cancellation, ProcessGroup? group, bool writes)
    {
        Validate(settings.Epochs, settings.BatchSize, settings.LearningRate);
        RunChecks.Validate(settings.Momentum, settings.WeightDecay, settings.TrainLimit);
        var resume = settings.Resume is null ? null : TrainingCheckpoint.Read(settings.Resume);
        var warnings = resume?.Check(settings.Model, settings.Norm, settings.Optimizer, settings.Seed, settings.BatchSize, settings.Momentum, settings.WeightDecay) ?? [];
        var loaded = CommonOptions.LoadData(console, settings.DataDirectory, settings.Preloaded);
        var train = settings.TrainLimit is int limit ? loaded.Train.Take(limit) : loaded.Train;
        int stepsPerEpoch = RunChecks.StepsPerEpoch(train.Count, settings.BatchSize);
        int steps = RunChecks.TotalSteps(settings.Epochs, stepsPerEpoch);
        var spec = new RunSpec(Choices.RunName(settings.Model, settings.Norm), settings.Model, settings.Norm, settings.Optimizer,
            settings.LearningRate, settings.BatchSize, settings.Seed, settings.Optimizer == OptimizerKind.Sgd ? settings.Momentum : 0, settings.WeightDecay);
        // Fail on a bad model/norm combination before any data work is wasted.
        _ = Models.Create(spec.Model, spec.Norm, train.SampleShape, loaded.Train.ClassCount, new Generator(0));
        foreach (var warning in warnings)
        {
            console.MarkupLine($"[yellow]warning:[/] {Markup.Escape(warning)}");
        }
        OutputFolder? folder = writes ? OutputFolder.Create(settings.OutputDirectory, DateTime.Now) : null;   // ranks above 0 write nothing
        int firstEpoch = resume?.Epochs ?? 0;
        string epochsText = resume is null ? settings.Epochs.Counted("epoch") : $"epochs {firstEpoch + 1}-{firstEpoch + settings.Epochs} (resumed after {firstEpoch.Counted("epoch")})";
        string rateNote = resume is not null && resume.LearningRate != settings.LearningRate
            ? $" (the checkpoint's was {resume.LearningRate.ToString("G4", CultureInfo.InvariantCulture)})" : "";
        string replicas = group is { WorldSize: > 1 } ? $" on {group.WorldSize} {(group.Backend == "mpi" ? "MPI ranks" : "thread replicas")} × {spec.BatchSize / group.WorldSize} samples (synchronized batch norm)" : "";
        console.MarkupLine($"[bold]Training[/] {Markup.Escape(spec.Name)}: {Choices.Name(spec.Optimizer)} lr {spec.LearningRate.ToString("G4", CultureInfo.InvariantCulture)}{rateNote}, " +
            $"batch {spec.BatchSize}{replicas}, {epochsText} × {stepsPerEpoch.Counted("step")}, seed {spec.Seed}; output {Markup.Escape(folder?.Path ?? "")}");

        RunResult? result = null;
        RunResult? lastSaved = null;
        try
        {
            RunProgress.Display(console, bar =>
            {
                var progress = bar(spec.Name, steps);
                var observer = progress.Observer((point, _) =>
                {
                    if (point.Step > 0)
                    {
                        console.MarkupLine(
                            $"epoch {point.Epoch,3:0}  train loss {point.TrainLoss:0.0000}  train acc {point.TrainAccuracy:0.0000}  " +
                            $"[bold]test loss {point.TestLoss:0.0000}  test acc {point.TestAccuracy:0.0000}[/]  {point.Seconds:0} s");
                    }
                }, onEpochEnd: run =>
                {
                    folder?.Rewrite(CheckpointFile, path => Trainer.SaveCheckpoint(run, path));
                    lastSaved = run;
                });
                result = Trainer.Run(spec, train, loaded.Test, loaded.Test, steps, stepsPerEpoch, null, observer, cancellation, settings.Resume, group, stopOnNonFiniteLoss: true);
                progress.Complete(result);
            });
        }
        catch (TrainingDivergedException ex)
        {
            folder?.RemoveIfEmpty();
            throw new TrainingDivergedException(ex.Message + " " + Kept(folder, lastSaved), ex);
        }
        catch
        {
            folder?.RemoveIfEmpty();
            throw;
        }

        var run = result!;
        if (run.Interrupted)
        {
            folder?.RemoveIfEmpty();
            throw new OperationCanceledException($"stopped at step {run.StepsDone:N0} of {steps:N0}. {Kept(folder, lastSaved)}");
        }
        if (folder is null)
        {
            return (run, null!);
        }
        DemoReport.WriteCurves(folder, "train-curves.png", "train-curves.csv", $"{spec.Name}: training and test curves", [run]);
        folder.WriteText("runs.csv", DemoReport.RunsTable([run]).ToString());
        console.MarkupLine($"Checkpoint after {run.EpochsDone.Counted("epoch")}: {Markup.Escape(folder.PathOf(CheckpointFile))} (resume with --resume)");
        console.MarkupLine($"[bold]Final test accuracy {DemoReport.F3(run.FinalTestAccuracy)}[/], {DemoReport.F1(run.SecondsPerEpoch)} s per epoch. Wrote {string.Join(", ", folder.Files)} to {Markup.Escape(folder.Path)}");
        return (run, folder);
    }

    /// <summary>The checkpoint's file name in the output folder.</summary>
    public const string CheckpointFile = "model.safetensors";

    /// <summary>What a run that stopped early leaves behind, in a sentence.</summary>
    private static string Kept(OutputFolder? folder, RunResult? lastSaved) => folder is null
        ? "This rank writes nothing; rank 0 keeps the checkpoints."
        : lastSaved is null
        ? "No epoch was completed; nothing was written."
        : $"Kept the checkpoint after epoch {lastSaved.EpochsDone}: {folder.PathOf(CheckpointFile)} (continue with --resume).";

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
