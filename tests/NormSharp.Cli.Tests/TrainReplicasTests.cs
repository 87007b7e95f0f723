using NormSharp.Cli.Experiments;

namespace NormSharp.Cli.Tests;

/// <summary><c>normsharp train --replicas N</c>: the same run as one process, on N thread replicas.</summary>
public class TrainReplicasTests
{
    [Fact]
    public void Two_replicas_reach_the_single_process_model_and_report()
    {
        var (console, output) = TestConsole.Create();
        string outDir = TestConsole.TempPath();
        try
        {
            // The batch-norm MLP has no dropout, so the replicated run must follow the single-process one up to rounding.
            TrainSettings Settings(int replicas) => new(ModelKind.Mlp, NormKind.Batch, OptimizerKind.Sgd, Epochs: 2, BatchSize: 50,
                LearningRate: 0.1, Momentum: 0.9, WeightDecay: 0, Seed: 2, DataDirectory: null, OutputDirectory: outDir, TrainLimit: 300,
                TestConsole.Embedded, Replicas: replicas);
            var (single, singleFolder) = TrainCommand.Execute(Settings(1), console);
            var (replicated, replicatedFolder) = TrainCommand.Execute(Settings(2), console);

            Assert.Contains("on 2 thread replicas × 25 samples", output.ToString(), StringComparison.Ordinal);
            Assert.Equal(single.StepsDone, replicated.StepsDone);
            Assert.Equal(singleFolder.Files.Order(), replicatedFolder.Files.Order());
            var expected = NormSharp.Serialization.Checkpoint.Read(singleFolder.PathOf("model.safetensors")).ModuleState;
            var actual = NormSharp.Serialization.Checkpoint.Read(replicatedFolder.PathOf("model.safetensors")).ModuleState;
            Assert.Equal(expected.Keys, actual.Keys);
            double largest = 0;
            foreach (var (key, value) in expected)
            {
                var wanted = value.ToArray();
                var got = actual[key].ToArray();
                for (int i = 0; i < wanted.Length; i++)
                {
                    largest = Math.Max(largest, Math.Abs(got[i] - wanted[i]) / Math.Max(1, Math.Abs(wanted[i])));
                }
            }
            Assert.True(largest < 1e-3, $"largest relative state difference after 12 steps: {largest:G3}");
            Assert.Equal(single.Points[^1].TrainLoss, replicated.Points[^1].TrainLoss, 4);
            Assert.Equal(single.FinalTestAccuracy, replicated.FinalTestAccuracy, 2);
        }
        finally
        {
            Directory.Delete(outDir, recursive: true);
        }
    }

    [Fact]
    public void A_batch_that_does_not_divide_by_the_replicas_is_refused()
    {
        var (console, _) = TestConsole.Create();
        var settings = new TrainSettings(ModelKind.Mlp, NormKind.Batch, OptimizerKind.Sgd, Epochs: 1, BatchSize: 25, LearningRate: 0.1,
            Momentum: 0, WeightDecay: 0, Seed: 0, DataDirectory: null, OutputDirectory: TestConsole.TempPath(), TrainLimit: 100, TestConsole.Embedded, Replicas: 2);
        var error = Assert.Throws<ArgumentException>(() => TrainCommand.Execute(settings, console));
        Assert.Contains("--batch-size 25 must be a multiple of the number of replicas (2)", error.Message, StringComparison.Ordinal);
    }
}
