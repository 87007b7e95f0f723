using System.Buffers.Binary;
using System.Globalization;
using NormSharp.Nn;
using NormSharp.Serialization;
using Xunit.Abstractions;

namespace NormSharp.Tests.Serialization;

/// <summary>
/// Interop without libtorch at test time: Fixtures/torchsharp-bn-cnn.safetensors is a state dict written by an
/// independent writer from libtorch tensors (through TorchSharp's modules; generator and command in
/// Fixtures/README.md), and Fixtures/torchsharp-bn-cnn.expected.safetensors holds an input batch and libtorch's
/// float64 results for it. The same architecture built from NormSharp's modules must load the file strictly and
/// reproduce those results: max |a − b| &lt;= 1e-5 · max(1, max |b|) per tensor, as in the libtorch oracle suite.
/// </summary>
/// <remarks>
/// tests/NormSharp.Oracle/InteropOracleTests regenerates the fixture live with libtorch and checks that the
/// committed files are still what the generator writes, so this test cannot drift from TorchSharp silently.
/// </remarks>
public class TorchSharpFixtureTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-5;

    /// <summary>The optimizer steps the generator took before writing: both batch norms' num_batches_tracked.</summary>
    private const long TrainingSteps = 5;

    private static readonly string StatePath = Path.Combine(AppContext.BaseDirectory, "Fixtures", "torchsharp-bn-cnn.safetensors");
    private static readonly string ExpectedPath = Path.Combine(AppContext.BaseDirectory, "Fixtures", "torchsharp-bn-cnn.expected.safetensors");

    /// <summary>
    /// The generator's architecture (InteropFixtureGenerator.CreateTorchModel) from NormSharp's modules: keys
    /// 0.* conv, 1.* BatchNorm2d, 5.* linear, 6.* BatchNorm1d with a cumulative average (momentum: null), 8.* linear.
    /// </summary>
    private static Sequential CreateModel() => new(
        new Conv2d(1, 4, 3, padding: 1, generator: new Generator(1)),
        new BatchNorm2d(4),
        new ReLU(),
        new MaxPool2d(2),
        new Flatten(),
        new Linear(64, 8, generator: new Generator(2)),
        new BatchNorm1d(8, momentum: null),
        new ReLU(),
        new Linear(8, 3, generator: new Generator(3)));

    [Fact]
    public void The_TorchSharp_state_dict_loads_strictly_into_the_NormSharp_architecture_bit_for_bit()
    {
        var model = CreateModel();
        var result = Checkpoint.Load(StatePath, model);

        Assert.True(result.Module.IsClean);
        Assert.Equal("pt", result.Metadata["format"]);
        var file = SafeTensors.ReadFile(StatePath);
        var state = model.StateDict();
        Assert.Equal(file.Entries.Select(e => e.Name).Order(StringComparer.Ordinal), state.Keys.Order(StringComparer.Ordinal));
        foreach (var entry in file.Entries)
        {
            if (entry.DType == SafeTensorsDType.I64)
            {
                Assert.Empty(entry.Shape);
                Assert.Equal(entry.ToInt64s()[0], Assert.IsType<Int64Scalar>(state[entry.Name]).Value);
            }
            else
            {
                Assert.Equal(SafeTensorsDType.F32, entry.DType);
                Assert.Equal(entry.Shape, state[entry.Name].Shape);
                Assert.Equal(entry.ToSingles(), state[entry.Name].ToArray());
            }
        }
        // The buffers were trained, not left at their initial values, so loading them is visible.
        foreach (var norm in new NormBase[] { (BatchNorm2d)model[1], (BatchNorm1d)model[6] })
        {
            Assert.Equal(TrainingSteps, norm.NumBatchesTracked);
            Assert.Contains(norm.RunningMean!.ToArray(), v => Math.Abs(v) > 1e-3);
            Assert.Contains(norm.RunningVar!.ToArray(), v => Math.Abs(v - 1) > 1e-3);
        }
    }

    [Fact]
    public void Eval_forward_reproduces_libtorch()
    {
        var model = CreateModel();
        Checkpoint.Load(StatePath, model);
        var expected = SafeTensors.ReadFile(ExpectedPath);

        model.Eval();
        var result = model.Forward(expected["input"].ToTensor());

        AssertClose("eval output", result, expected["eval.output"]);
    }

    [Fact]
    public void A_training_forward_after_loading_reproduces_libtorch_output_and_running_statistics()
    {
        var model = CreateModel();
        Checkpoint.Load(StatePath, model);
        var expected = SafeTensors.ReadFile(ExpectedPath);

        model.Train();
        var result = model.Forward(expected["input"].ToTensor());

        AssertClose("train output", result, expected["train.output"]);
        // The cumulative average weighs this batch by 1 / (num_batches_tracked + 1): the loaded counter is used.
        AssertStatisticsMatch(model, expected);
    }

    [Fact]
    public void The_comparison_notices_a_num_batches_tracked_that_was_not_loaded()
    {
        var model = CreateModel();
        var state = Checkpoint.Read(StatePath).ModuleState;
        state.Remove("6.num_batches_tracked");
        // As PyTorch, a state dict without the counter loads (even strictly) with the counter at 0.
        var result = model.LoadStateDict(state);
        Assert.Empty(result.MissingKeys);
        var expected = SafeTensors.ReadFile(ExpectedPath);

        model.Train();
        model.Forward(expected["input"].ToTensor());

        // Counting from 0, the batch would be weighted 1 instead of 1/6.
        double error = MaxError(model.StateDict()["6.running_mean"], expected["train.state.6.running_mean"]);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"6.running_mean with num_batches_tracked left at 0: error {error:G3}"));
        Assert.True(error > 100 * Tolerance, $"error {error} should be far above the tolerance");
    }

    private void AssertStatisticsMatch(Module model, SafeTensorsFile expected)
    {
        var state = model.StateDict();
        foreach (string name in new[] { "1.running_mean", "1.running_var", "6.running_mean", "6.running_var" })
        {
            AssertClose("after the training forward " + name, state[name], expected["train.state." + name]);
        }
        Assert.Equal(expected["train.state.1.num_batches_tracked"].ToInt64s()[0], Assert.IsType<Int64Scalar>(state["1.num_batches_tracked"]).Value);
        Assert.Equal(TrainingSteps + 1, Assert.IsType<Int64Scalar>(state["6.num_batches_tracked"]).Value);
        Assert.Equal(TrainingSteps + 1, expected["train.state.6.num_batches_tracked"].ToInt64s()[0]);
    }

    private void AssertClose(string quantity, Tensor actual, SafeTensorsEntry expected)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        double error = MaxError(actual, expected);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{quantity}: max |NormSharp - libtorch| / max(1, max |libtorch|) = {error:G3}"));
        Assert.True(error <= Tolerance, $"{quantity}: error {error:G3} > {Tolerance:G}");
    }

    /// <summary>max |a − b| / max(1, max |b|), with b read from an F64 entry exactly (not rounded to float32).</summary>
    private static double MaxError(Tensor actual, SafeTensorsEntry expected)
    {
        Assert.Equal(SafeTensorsDType.F64, expected.DType);
        var bytes = expected.Data.Span;
        var values = actual.ToArray();
        Assert.Equal(values.Length * 8, bytes.Length);
        double scale = 1, worst = 0;
        for (int i = 0; i < values.Length; i++)
        {
            double b = BinaryPrimitives.ReadDoubleLittleEndian(bytes.Slice(8 * i, 8));
            scale = Math.Max(scale, Math.Abs(b));
            worst = Math.Max(worst, Math.Abs(values[i] - b));
        }
        return worst / scale;
    }
}
