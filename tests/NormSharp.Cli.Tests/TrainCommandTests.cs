using NormSharp.Cli.Experiments;

namespace NormSharp.Cli.Tests;

public class TrainCommandTests
{
    [Fact]
    public void Train_prints_each_epoch_and_writes_curves()
    {
        var (console, output) = TestConsole.Create();
        string outDir = TestConsole.TempPath();
        try
        {
            var settings = new TrainSettings(ModelKind.Mlp, NormKind.Batch, OptimizerKind.Sgd, Epochs: 2, BatchSize: 50, LearningRate: 0.1,
                Momentum: 0.9, WeightDecay: 0, Seed: 1, DataDirectory: null, OutputDirectory: outDir, TrainLimit: 500, TestConsole.Embedded);
            var (result, folder) = TrainCommand.Execute(settings, console);
            Assert.Equal(20, result.StepsDone);
            var text = output.ToString();
            Assert.Contains("epoch   1", text, StringComparison.Ordinal);
            Assert.Contains("epoch   2", text, StringComparison.Ordinal);
            Assert.True(File.Exists(folder.PathOf("train-curves.png")));
            Assert.True(File.Exists(folder.PathOf("train-curves.csv")));
            // Two epochs of a small MLP on 500 images: clearly better than chance (0.1) on the 1,000 test images.
            Assert.InRange(result.FinalTestAccuracy, 0.4, 1.0);
        }
        finally
        {
            Directory.Delete(outDir, recursive: true);
        }
    }

    [Fact]
    public void Resumed_training_equals_uninterrupted_training_bit_for_bit()
    {
        var (console, _) = TestConsole.Create();
        string outDir = TestConsole.TempPath();
        try
        {
            TrainSettings Settings(int epochs, string? resume) => new(ModelKind.Mlp, NormKind.Batch, OptimizerKind.Adam, Epochs: epochs, BatchSize: 50,
                LearningRate: 1e-3, Momentum: 0, WeightDecay: 0, Seed: 4, DataDirectory: null, OutputDirectory: outDir, TrainLimit: 300, TestConsole.Embedded, resume);
            var (straight, straightFolder) = TrainCommand.Execute(Settings(3, null), console);
            var (first, firstFolder) = TrainCommand.Execute(Settings(1, null), console);
            var (resumed, resumedFolder) = TrainCommand.Execute(Settings(2, firstFolder.PathOf("model.safetensors")), console);
            Assert.Equal((3, 1, 3), (straight.EpochsDone, first.EpochsDone, resumed.EpochsDone));

            var expected = NormSharp.Serialization.Checkpoint.Read(straightFolder.PathOf("model.safetensors"));
            var actual = NormSharp.Serialization.Checkpoint.Read(resumedFolder.PathOf("model.safetensors"));
            Assert.Equal("3", actual.Metadata["epochs"]);
            Assert.Equal(expected.ModuleState.Keys, actual.ModuleState.Keys);
            foreach (var (key, value) in expected.ModuleState)
            {
                Assert.True(value.ToArray().AsSpan().SequenceEqual(actual.ModuleState[key].ToArray()), $"{key} differs after resuming");
            }
            Assert.Equal(expected.OptimizerState!.Keys.Order(), actual.OptimizerState!.Keys.Order());
            foreach (var (key, value) in expected.OptimizerState)
            {
                Assert.True(value.ToArray().AsSpan().SequenceEqual(actual.OptimizerState[key].ToArray()), $"optimizer {key} differs after resuming");
            }
            // The checkpoint after one epoch is different, so the comparison above can fail.
            var afterOne = NormSharp.Serialization.Checkpoint.Read(firstFolder.PathOf("model.safetensors"));
            string weight = expected.ModuleState.Keys.First(k => k.EndsWith(".weight", StringComparison.Ordinal));
            Assert.False(afterOne.ModuleState[weight].ToArray().AsSpan().SequenceEqual(expected.ModuleState[weight].ToArray()));
        }
        finally
        {
            Directory.Delete(outDir, recursive: true);
        }
    }

    [Fact]
    public void Resume_from_a_file_without_training_state_names_the_problem()
    {
        var (console, _) = TestConsole.Create();
        string outDir = TestConsole.TempPath();
        try
        {
            Directory.CreateDirectory(outDir);
            string path = Path.Combine(outDir, "weights-only.safetensors");
            var model = Models.Create(ModelKind.Mlp, NormKind.Batch, [1, 28, 28], 10, new Generator(0));
            NormSharp.Serialization.Checkpoint.Save(path, model);
            var settings = new TrainSettings(ModelKind.Mlp, NormKind.Batch, OptimizerKind.Adam, Epochs: 1, BatchSize: 50, LearningRate: 1e-3,
                Momentum: 0, WeightDecay: 0, Seed: 4, DataDirectory: null, OutputDirectory: outDir, TrainLimit: 100, TestConsole.Embedded, path);
            var ex = Assert.Throws<InvalidDataException>(() => TrainCommand.Execute(settings, console));
            Assert.Contains("no optimizer state", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(outDir, recursive: true);
        }
    }

    [Fact]
    public void Compare_trains_each_normalization_on_the_same_batches()
    {
        var (console, _) = TestConsole.Create();
        string outDir = TestConsole.TempPath();
        try
        {
            var settings = new CompareSettings(ModelKind.Mlp, [NormKind.Batch, NormKind.None], OptimizerKind.Adam, Epochs: 1, BatchSize: 50, LearningRate: 1e-3,
                Momentum: 0, WeightDecay: 0, Seed: 2, DataDirectory: null, OutputDirectory: outDir, TrainLimit: 300, EvalSamples: 200, TestConsole.Embedded);
            var (results, folder) = CompareCommand.Execute(settings, console);
            Assert.Equal([NormKind.Batch, NormKind.None], results.Select(r => r.Spec.Norm));
            Assert.All(results, r => Assert.Equal(6, r.StepsDone));
            var csv = File.ReadAllLines(folder.PathOf(CompareCommand.CurvesCsv));
            Assert.Contains(csv, l => l.Contains(",batch,", StringComparison.Ordinal));
            Assert.Contains(csv, l => l.Contains(",none,", StringComparison.Ordinal));
            Assert.True(new FileInfo(folder.PathOf(CompareCommand.CurvesPng)).Length > 5000);
        }
        finally
        {
            Directory.Delete(outDir, recursive: true);
        }
    }

    [Fact]
    public void Bad_options_give_an_error_message_and_exit_code_1()
    {
        var (console, _) = TestConsole.Create();
        using var errors = new StringWriter();
        int code = CommandRunner.Run(console, _ =>
        {
            TrainCommand.Validate(epochs: 0, batchSize: 64, learningRate: 0.1);
            return 0;
        }, errors);
        Assert.Equal(1, code);
        Assert.Equal("error: --epochs must be > 0, got 0." + Environment.NewLine, errors.ToString());
    }
}
