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

    public static Option<int> Seed() => new("--seed")
    {
        Description = "Seed for initialization and shuffling.",
        DefaultValueFactory = _ => 0,
    };

    public static Option<string> Model(string defaultValue) => new("--model")
    {
        Description = "Network: mlp (784-256-128-10 ReLU), paper-mlp (784-100-100-100-10 sigmoid, the batch norm paper's), cnn (2 conv + norm + pooling + FC); lstm, bnlstm, lnlstm read the image row by row (28 steps; the normalization is in the model, --norm does not apply).",
        DefaultValueFactory = _ => defaultValue,
        HelpName = "mlp|paper-mlp|cnn|lstm|bnlstm|lnlstm",
    };

    public static Option<int> Epochs(int defaultValue) => new("--epochs")
    {
        Description = "Passes over the training set.",
        DefaultValueFactory = _ => defaultValue,
    };

    public static Option<int> BatchSize() => new("--batch-size")
    {
        Description = "Mini-batch size.",
        DefaultValueFactory = _ => 64,
    };

    public static Option<double?> LearningRate() => new("--lr")
    {
        Description = "Learning rate (default: 0.1 for sgd, 0.001 for adam and adamw).",
    };

    public static Option<string> Optimizer() => new("--optimizer")
    {
        Description = "Optimizer: sgd, adam, adamw.",
        DefaultValueFactory = _ => "adam",
        HelpName = "sgd|adam|adamw",
    };

    public static Option<double> Momentum() => new("--momentum")
    {
        Description = "SGD momentum.",
        DefaultValueFactory = _ => 0.9,
    };

    public static Option<double> WeightDecay() => new("--weight-decay")
    {
        Description = "Weight decay (L2 for sgd and adam, decoupled for adamw).",
        DefaultValueFactory = _ => 0.0,
    };

    public static Option<int?> TrainLimit() => new("--train-limit")
    {
        Description = "Use only the first N training images (for quick experiments).",
        HelpName = "N",
    };

    /// <summary>The learning rate to use when --lr is not given.</summary>
    public static double DefaultLearningRate(OptimizerKind optimizer) => optimizer == OptimizerKind.Sgd ? 0.1 : 1e-3;

    /// <summary>Runs a command body, turning the expected failures (bad data, bad options) into a red message and exit code 1.</summary>
    public static int Guard(IAnsiConsole console, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception ex) when (ex is InvalidDataException or FileNotFoundException or DirectoryNotFoundException or ArgumentException or NotSupportedException or IOException)
        {
            console.MarkupLine($"[red]error:[/] {Markup.Escape(ex.Message)}");
            return 1;
        }
    }

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
