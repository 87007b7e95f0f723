using NormSharp.Autograd;
using NormSharp.Cli;
using NormSharp.Cli.Experiments;
using NormSharp.Cli.Tests;
using NormSharp.Serialization;
using static NormSharp.Onnx.Tests.OnnxRuntimeCheck;

namespace NormSharp.Onnx.Tests;

/// <summary><c>normsharp export</c>: a checkpoint from <c>normsharp train</c> becomes an ONNX file that ONNX Runtime runs as NormSharp does.</summary>
public class ExportCommandTests
{
    [Fact]
    public void Trained_checkpoint_exports_and_runs_in_onnx_runtime_on_test_images()
    {
        var directory = Directory.CreateTempSubdirectory("normsharp-export-");
        try
        {
            var (console, output) = TestConsole.Create();
            console.Profile.Width = 400;   // one line per message, so that the assertion sees the whole sentence
            var data = TestConsole.Embedded;
            var train = new TrainSettings(ModelKind.Cnn, NormKind.Batch, OptimizerKind.Adam, Epochs: 1, BatchSize: 32, LearningRate: 1e-3,
                Momentum: 0, WeightDecay: 0, Seed: 3, DataDirectory: null, OutputDirectory: Path.Combine(directory.FullName, "run"), TrainLimit: 128, data);
            var (_, folder) = TrainCommand.Execute(train, console);
            var checkpoint = folder.PathOf("model.safetensors");
            var model = Models.Create(ModelKind.Cnn, NormKind.Batch, [1, 28, 28], 10, new Generator(9));
            Checkpoint.Load(checkpoint, model);
            model.Eval();
            var images = data.Test.Take(20).Images;
            Tensor expected;
            using (new NoGrad())
            {
                expected = model.Forward(images);
            }

            foreach (bool fold in new[] { false, true })
            {
                var onnxPath = Path.Combine(directory.FullName, $"model-{fold}.onnx");
                var written = ExportCommand.Execute(new ExportSettings(checkpoint, ModelKind.Cnn, NormKind.Batch, onnxPath, FoldBatchNorm: fold), console);

                Assert.Equal(onnxPath, written);
                var (actual, shape) = Run(File.ReadAllBytes(onnxPath), images);
                Assert.Equal([20, 10], shape);
                AssertClose(expected.ToArray(), actual, $"exported checkpoint (fold {fold})");
            }
            Assert.Contains("opset 17, IR version 8", output.ToString(), StringComparison.Ordinal);
            Assert.Contains("batch norm folded", output.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void Command_line_export_of_a_mismatched_checkpoint_fails_with_a_message()
    {
        var directory = Directory.CreateTempSubdirectory("normsharp-export-");
        try
        {
            var checkpoint = Path.Combine(directory.FullName, "mlp.safetensors");
            Checkpoint.Save(checkpoint, Models.Create(ModelKind.Mlp, NormKind.Batch, [1, 28, 28], 10, new Generator(0)));
            var onnxPath = Path.Combine(directory.FullName, "model.onnx");
            int mismatched = Program.BuildRoot().Parse(["export", "--checkpoint", checkpoint, "--model", "cnn", "--norm", "batch", "--out", onnxPath]).Invoke();
            Assert.Equal(1, mismatched);
            Assert.False(File.Exists(onnxPath));

            int matched = Program.BuildRoot().Parse(["export", "--checkpoint", checkpoint, "--model", "mlp", "--norm", "batch", "--out", onnxPath, "--opset", "21"]).Invoke();
            Assert.Equal(0, matched);
            Assert.Equal(21, Protobuf.ModelProto.Parser.ParseFrom(File.ReadAllBytes(onnxPath)).OpsetImport[0].Version);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
