using System.CommandLine;
using NormSharp.Cli.Experiments;
using Spectre.Console;

namespace NormSharp.Cli;

/// <summary>Options shared by several commands, and the error handling every command uses.</summary>
internal static class CommonOptions
{
    public static Option<string?> Data() => new("--data")
    {
        Description = "Folder with the four MNIST-format IDX files (train-images-idx3-ubyte[.gz] ...). " +
            $"Default: {DataSource.DebianDirectory} (Debian's dataset-fashion-mnist) if present, else the embedded Fashion-MNIST subset.",
        HelpName = "DIR",
    };

    public static Option<string?> Out() => new("--out")
    {
        Description = "Output folder (default ./normsharp-out/<yyyyMMdd-HHmmss>); a suffix is added rather than overwrite a non-empty folder.",
        HelpName = "DIR",
    };

    public static Option<int> Seed() => new Option<int>("--seed")
    {
        Description = "Seed for initialization and shuffling.",
        DefaultValueFactory = _ => 0,
    }.Numeric();

    public static Option<string> Model(string defaultValue) => new("--model")
    {
        Description = "Network: mlp (784-256-128-10 ReLU), paper-mlp (784-100-100-100-10 sigmoid, the batch norm paper's), cnn (2 conv + norm + pooling + FC); lstm, bnlstm, lnlstm read the image row by row (28 steps; the normalization is in the model, --norm does not apply).",
        DefaultValueFactory = _ => defaultValue,
        HelpName = "mlp|paper-mlp|cnn|lstm|bnlstm|lnlstm",
    };

    public static Option<int> Epochs(int defaultValue) => new Option<int>("--epochs")
    {
        Description = "Passes over the training set.",
        DefaultValueFactory = _ => defaultValue,
    }.Numeric();

    public static Option<int> BatchSize() => new Option<int>("--batch-size")
    {
        Description = "Mini-batch size.",
        DefaultValueFactory = _ => 64,
    }.Numeric();

    public static Option<double?> LearningRate() => new Option<double?>("--lr")
    {
        Description = "Learning rate (default: 0.1 for sgd, 0.001 for adam and adamw).",
    }.Numeric();

    public static Option<string> Optimizer() => new("--optimizer")
    {
        Description = "Optimizer: sgd, adam, adamw.",
        DefaultValueFactory = _ => "adam",
        HelpName = "sgd|adam|adamw",
    };

    public static Option<double> Momentum() => new Option<double>("--momentum")
    {
        Description = "SGD momentum.",
        DefaultValueFactory = _ => 0.9,
    }.Numeric();

    public static Option<double> WeightDecay() => new Option<double>("--weight-decay")
    {
        Description = "Weight decay (L2 for sgd and adam, decoupled for adamw).",
        DefaultValueFactory = _ => 0.0,
    }.Numeric();

    public static Option<int?> TrainLimit() => new Option<int?>("--train-limit")
    {
        Description = "Use only the first N training images (for quick experiments).",
        HelpName = "N",
    }.Numeric();

    /// <summary>The learning rate to use when --lr is not given.</summary>
    public static double DefaultLearningRate(OptimizerKind optimizer) => optimizer == OptimizerKind.Sgd ? 0.1 : 1e-3;

    /// <summary>Runs a command body through <see cref="CommandRunner.Run"/>: expected failures become one line on standard error and exit code 1.</summary>
    public static int Guard(IAnsiConsole console, Func<int> body) => CommandRunner.Run(console, _ => body());

    /// <summary>Loads the data with a spinner and prints which source was used.</summary>
    public static LoadedData LoadData(IAnsiConsole console, string? dataDirectory, LoadedData? preloaded = null)
    {
        LoadedData? data = preloaded;
        if (data is null)
        {
            console.Status().Start("Loading data ...", _ => data = DataSource.Load(dataDirectory));
        }
        console.MarkupLine($"[bold]Data:[/] {Markup.Escape(data!.Description)}");
        return data;
    }
}
