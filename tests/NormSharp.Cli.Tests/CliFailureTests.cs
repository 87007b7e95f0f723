using System.Diagnostics;
using System.Globalization;
using NormSharp.Cli.Experiments;
using NormSharp.Serialization;

namespace NormSharp.Cli.Tests;

/// <summary>
/// The failures of issue 18, each as a user meets it: one clear line on standard error, a non-zero exit code, no
/// stack trace, and no empty or half-written output folder. Tests named ItemN follow the issue's numbering.
/// </summary>
public sealed class CliFailureTests : IDisposable
{
    private readonly string directory = TestConsole.TempPath();

    public void Dispose()
    {
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private string DefaultOutput => Path.Combine(directory, "normsharp-out");

    [Theory]
    [InlineData("train", "--epochs", "2000000000", "--train-limit", "128")]
    [InlineData("train", "--epochs", "30000000")]
    [InlineData("compare", "--epochs", "30000000")]
    public void Item1_a_step_count_beyond_int_range_is_refused_before_training(params string[] args)
    {
        var run = CliProcess.Run(directory, args);
        run.AssertOneLineError("more than the 2,147,483,647 a run can count");
        Assert.False(Directory.Exists(DefaultOutput));
    }

    [Fact]
    public void Item2_a_resumed_cnn_with_dropout_reaches_the_same_bits_as_an_uninterrupted_run()
    {
        var (console, _) = TestConsole.Create();
        // 100 test images: the evaluations are not what this test is about, and a CNN's are slow.
        var smallTest = TestConsole.Embedded with { Test = TestConsole.Embedded.Test.Take(100) };
        TrainSettings Settings(int epochs, string? resume, string output) => new(ModelKind.Cnn, NormKind.Batch, OptimizerKind.Adam, Epochs: epochs, BatchSize: 32,
            LearningRate: 1e-3, Momentum: 0, WeightDecay: 0, Seed: 3, DataDirectory: null, OutputDirectory: output, TrainLimit: 96, smallTest, resume);
        var (_, straight) = TrainCommand.Execute(Settings(2, null, Path.Combine(directory, "straight")), console);
        var (_, first) = TrainCommand.Execute(Settings(1, null, Path.Combine(directory, "first")), console);
        var (_, resumed) = TrainCommand.Execute(Settings(1, first.PathOf(TrainCommand.CheckpointFile), Path.Combine(directory, "resumed")), console);

        var expected = Checkpoint.Read(straight.PathOf(TrainCommand.CheckpointFile));
        var actual = Checkpoint.Read(resumed.PathOf(TrainCommand.CheckpointFile));
        Assert.Contains(expected.Metadata.Keys, k => k.StartsWith("generator.", StringComparison.Ordinal));
        foreach (var (key, value) in expected.ModuleState)
        {
            Assert.True(value.ToArray().AsSpan().SequenceEqual(actual.ModuleState[key].ToArray()), $"{key} differs after resuming");
        }
        Assert.Equal(expected.Metadata.Where(m => m.Key.StartsWith("generator.", StringComparison.Ordinal)),
            actual.Metadata.Where(m => m.Key.StartsWith("generator.", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Item3_ctrl_c_keeps_the_last_completed_epochs_checkpoint_and_exits_130()
    {
        string output = Path.Combine(directory, "run");
        Directory.CreateDirectory(directory);
        using var process = Process.Start(CliProcess.StartInfo(directory, "train", "--epochs", "100000", "--train-limit", "640", "--out", output))!;
        process.StandardInput.Close();
        var error = process.StandardError.ReadToEndAsync();
        var seen = new System.Text.StringBuilder();
        while (await process.StandardOutput.ReadLineAsync() is { } line)
        {
            seen.AppendLine(line);
            if (line.StartsWith("epoch   2", StringComparison.Ordinal))
            {
                // SIGINT, what Ctrl-C sends.
                using var kill = Process.Start("kill", ["-INT", process.Id.ToString(CultureInfo.InvariantCulture)]);
                kill.WaitForExit();
                break;
            }
        }
        string rest = await process.StandardOutput.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "normsharp did not stop after SIGINT");
        var run = new CliRun(process.ExitCode, seen + rest, await error);
        run.AssertOneLineError("Kept the checkpoint after epoch", CommandRunner.Interrupted);
        Assert.StartsWith("interrupted:", run.Error, StringComparison.Ordinal);
        var kept = Checkpoint.Read(Path.Combine(output, TrainCommand.CheckpointFile));
        Assert.InRange(int.Parse(kept.Metadata[Trainer.EpochsKey], CultureInfo.InvariantCulture), 2, 100);
        Assert.Equal([TrainCommand.CheckpointFile], Directory.GetFiles(output).Select(Path.GetFileName));
    }

    [Fact]
    public void Item3_an_interrupt_before_the_first_epoch_ends_leaves_no_folder()
    {
        var (console, _) = TestConsole.Create();
        using var interrupt = new CancellationTokenSource();
        interrupt.Cancel();
        string output = Path.Combine(directory, "run");
        var settings = new TrainSettings(ModelKind.Mlp, NormKind.Batch, OptimizerKind.Adam, Epochs: 2, BatchSize: 50, LearningRate: 1e-3,
            Momentum: 0, WeightDecay: 0, Seed: 1, DataDirectory: null, OutputDirectory: output, TrainLimit: 200, TestConsole.Embedded);
        var ex = Assert.Throws<OperationCanceledException>(() => TrainCommand.Execute(settings, console, interrupt.Token));
        Assert.Contains("No epoch was completed; nothing was written.", ex.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void Item4_a_non_finite_loss_stops_with_the_step_and_learning_rate()
    {
        var run = CliProcess.Run(directory, "train", "--lr", "1e6", "--optimizer", "sgd", "--train-limit", "640", "--epochs", "3");
        run.AssertOneLineError("with sgd learning rate 1E+06: try a lower --lr");
        Assert.Matches(@"The training loss became (NaN|∞|-∞) at step \d+ \(epoch 1\)", run.Error);
        Assert.Contains("No epoch was completed; nothing was written.", run.Error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(DefaultOutput) && Directory.EnumerateFileSystemEntries(DefaultOutput).Any());
    }

    [Fact]
    public void Item5_a_folder_as_resume_and_an_unwritable_out_fail_before_training()
    {
        Directory.CreateDirectory(directory);
        CliProcess.Run(directory, "train", "--resume", directory).AssertOneLineError($"--resume {directory} is a folder; expected a checkpoint file");
        string file = Path.Combine(directory, "not-a-folder");
        File.WriteAllText(file, "x");
        CliProcess.Run(directory, "train", "--data", file).AssertOneLineError($"--data {file}: expected the IDX files");
        // /proc accepts no new folders, even from root.
        var run = CliProcess.Run(directory, "train", "--train-limit", "640", "--out", "/proc/normsharp-test");
        run.AssertOneLineError("Cannot write the output folder /proc/normsharp-test");
        Assert.DoesNotContain("epoch", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Item6_the_learning_rate_reported_is_the_one_used_and_a_resumed_run_keeps_the_checkpoints_by_default()
    {
        string first = Path.Combine(directory, "first");
        Assert.Equal(0, CliProcess.Run(directory, "train", "--epochs", "1", "--train-limit", "640", "--lr", "0.002", "--out", first).ExitCode);
        string checkpoint = Path.Combine(first, TrainCommand.CheckpointFile);

        string kept = Path.Combine(directory, "kept");
        var keep = CliProcess.Run(directory, "train", "--epochs", "1", "--train-limit", "640", "--resume", checkpoint, "--seed", "5", "--out", kept);
        Assert.Equal(0, keep.ExitCode);
        Assert.Contains("adam lr 0.002,", keep.Output, StringComparison.Ordinal);
        Assert.Contains("warning: --seed 5 differs from the checkpoint's 0", keep.Output, StringComparison.Ordinal);
        Assert.Equal("0.002", Checkpoint.Read(Path.Combine(kept, TrainCommand.CheckpointFile)).Metadata[Checkpoint.LearningRateKey]);

        string overridden = Path.Combine(directory, "overridden");
        var change = CliProcess.Run(directory, "train", "--epochs", "1", "--train-limit", "640", "--resume", checkpoint, "--lr", "0.5", "--out", overridden);
        Assert.Equal(0, change.ExitCode);
        Assert.Contains("adam lr 0.5 (the checkpoint's was 0.002)", change.Output, StringComparison.Ordinal);
        // The optimizer ran at 0.5: the checkpoint saves the optimizer's own rate, and runs.csv the same.
        Assert.Equal("0.5", Checkpoint.Read(Path.Combine(overridden, TrainCommand.CheckpointFile)).Metadata[Checkpoint.LearningRateKey]);
        var runs = File.ReadAllLines(Path.Combine(overridden, "runs.csv"));
        int column = Array.IndexOf(Csv.Split(runs[0]), "learning_rate");
        Assert.Equal(0.5, double.Parse(Csv.Split(runs[1])[column], CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("--batch-size 7000 --train-limit 6000", "--batch-size 7000 is larger than the training set")]   // limited: Debian's full set has 60,000 images
    [InlineData("--resume /nonexistent/model.safetensors", "--resume /nonexistent/model.safetensors: no such file.")]
    [InlineData("--momentum NaN --optimizer sgd", "--momentum must be a finite number >= 0, got NaN.")]
    public void Item7_early_errors_leave_no_output_folder(string options, string expected)
    {
        string output = Path.Combine(directory, "out");
        var run = CliProcess.Run(directory, ["train", .. options.Split(' '), "--out", output]);
        run.AssertOneLineError(expected);
        Assert.False(Directory.Exists(output));
        Assert.False(Directory.Exists(DefaultOutput));
    }

    [Theory]
    [InlineData("--train-limit -5", "--train-limit must be > 0, got -5.")]
    [InlineData("--lr abc", "--lr expects a number, got \"abc\".")]
    [InlineData("--epochs 1.5", "--epochs expects a whole number (at most 2,147,483,647), got \"1.5\".")]
    [InlineData("--output x", "Unrecognized command or argument '--output'. Unrecognized command or argument 'x'.")]
    public void Item8_bad_values_are_named_in_words(string options, string expected) =>
        CliProcess.Run(directory, ["train", .. options.Split(' ')]).AssertOneLineError(expected);

    [Fact]
    public void Item8_counts_are_in_words_and_a_resumed_run_numbers_its_epochs_on()
    {
        var (console, output) = TestConsole.Create();
        ConsoleSetup.ForOutput(console, outputRedirected: true);
        TrainSettings Settings(int epochs, string? resume, string name) => new(ModelKind.Mlp, NormKind.Batch, OptimizerKind.Adam, Epochs: epochs, BatchSize: 50,
            LearningRate: 1e-3, Momentum: 0, WeightDecay: 0, Seed: 4, DataDirectory: null, OutputDirectory: Path.Combine(directory, name), TrainLimit: 100, TestConsole.Embedded, resume);
        var (_, first) = TrainCommand.Execute(Settings(1, null, "first"), console);
        Assert.Contains("1 epoch × 2 steps", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("Checkpoint after 1 epoch:", output.ToString(), StringComparison.Ordinal);
        output.GetStringBuilder().Clear();
        TrainCommand.Execute(Settings(2, first.PathOf(TrainCommand.CheckpointFile), "resumed"), console);
        string text = output.ToString();
        Assert.Contains("epochs 2-3 (resumed after 1 epoch)", text, StringComparison.Ordinal);
        Assert.Contains("epoch   2", text, StringComparison.Ordinal);
        Assert.Contains("epoch   3", text, StringComparison.Ordinal);
        Assert.DoesNotContain("epoch   1 ", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Item9_resuming_another_models_checkpoint_names_the_options_it_was_trained_with()
    {
        var (console, _) = TestConsole.Create();
        var first = new TrainSettings(ModelKind.Mlp, NormKind.Layer, OptimizerKind.Adam, Epochs: 1, BatchSize: 50, LearningRate: 1e-3,
            Momentum: 0, WeightDecay: 0, Seed: 4, DataDirectory: null, OutputDirectory: Path.Combine(directory, "first"), TrainLimit: 100, TestConsole.Embedded);
        var (_, folder) = TrainCommand.Execute(first, console);
        string resumed = Path.Combine(directory, "resumed");
        var ex = Assert.Throws<ArgumentException>(() => TrainCommand.Execute(first with
        {
            Model = ModelKind.Cnn, Norm = NormKind.Batch, OutputDirectory = resumed, Resume = folder.PathOf(TrainCommand.CheckpointFile),
        }, console));
        Assert.Contains("was trained with --model mlp --norm layer; this run has --model cnn --norm batch.", ex.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(resumed));
    }

    [Fact]
    public void Item10_output_to_a_pipe_is_not_wrapped()
    {
        var run = CliProcess.Run(directory, "train", "--epochs", "1", "--train-limit", "640", "--out", Path.Combine(directory, "a-long-folder-name-so-that-the-line-is-wider-than-eighty-columns"));
        Assert.Equal(0, run.ExitCode);
        string header = run.Output.Split('\n').Single(l => l.StartsWith("Training ", StringComparison.Ordinal));
        Assert.True(header.Length > 120, header);
        Assert.EndsWith("a-long-folder-name-so-that-the-line-is-wider-than-eighty-columns", header.TrimEnd(), StringComparison.Ordinal);
    }
}
