using System.Globalization;
using NormSharp.Functional;
using NormSharp.Nn;
using NormSharp.Optim;
using NormSharp.Serialization;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;
using TorchTensor = TorchSharp.torch.Tensor;

namespace NormSharp.Oracle;

/// <summary>
/// Checkpoint interop with libtorch through safetensors files, both ways: a state dict written from TorchSharp's
/// modules by an independent writer loads into the same NormSharp architecture and reproduces libtorch's outputs
/// and running statistics; a NormSharp checkpoint loads into TorchSharp's modules and reproduces NormSharp's. Also
/// checks that the fixture committed for the libtorch-free tests is still what the generator writes.
/// </summary>
/// <remarks>
/// Set NORMSHARP_REGENERATE_FIXTURES=1 to have the first test write the fixture into
/// tests/NormSharp.Tests/Fixtures instead of a temporary folder (see the README there).
/// </remarks>
[Collection(LibTorchCollection.Name)]
public sealed class InteropOracleTests(ITestOutputHelper output) : IDisposable
{
    /// <summary>How far the committed fixture may be from a fresh generation: float64 training on another CPU may
    /// round differently in the last bits, which moves a float32 value by an ulp (6e-8 relative), not more.</summary>
    private const double DriftTolerance = 1e-6;

    private readonly System.Text.StringBuilder log = new();
    private readonly DirectoryInfo temporary = Directory.CreateTempSubdirectory("normsharp-interop-");

    public void Dispose() => temporary.Delete(recursive: true);

    [Fact]
    public void A_state_dict_written_from_TorchSharp_loads_into_NormSharp_and_reproduces_libtorch()
    {
        using var scope = NewDisposeScope();
        bool regenerate = Environment.GetEnvironmentVariable("NORMSHARP_REGENERATE_FIXTURES") == "1";
        string folder = regenerate ? InteropFixtureGenerator.CommittedFolder() : temporary.FullName;
        var fixture = InteropFixtureGenerator.Generate(folder);
        output.WriteLine($"{(regenerate ? "Regenerated" : "Generated")} {fixture.StatePath} ({new FileInfo(fixture.StatePath).Length} bytes) and {fixture.ExpectedPath} ({new FileInfo(fixture.ExpectedPath).Length} bytes).");
        var check = new OracleCase("Interop TorchSharp->NormSharp", $"fixture {InteropFixtureGenerator.StateFileName}, freshly generated in {folder}");

        var model = InteropFixtureGenerator.CreateNormSharpModel(new Generator(1));
        var loaded = Checkpoint.Load(fixture.StatePath, model);
        Assert.True(loaded.Module.IsClean);
        AssertHoldsWrittenState(model, fixture.State);

        // The input goes through NormSharp's reader too: the whole path a user's file takes.
        var input = SafeTensors.ReadFile(fixture.ExpectedPath)[InteropFixtureGenerator.InputKey].ToTensor();
        model.Eval();
        Compare(check, "eval output", model.Forward(input), fixture.Expected[InteropFixtureGenerator.EvalOutputKey]);
        model.Train();
        Compare(check, "train output", model.Forward(input), fixture.Expected[InteropFixtureGenerator.TrainOutputKey]);
        AssertBuffersMatch(check, model, fixture.Expected);
        output.WriteLine(log.ToString());
    }

    [Fact]
    public void The_committed_fixture_is_what_the_generator_writes_today()
    {
        using var scope = NewDisposeScope();
        var fixture = InteropFixtureGenerator.Generate(temporary.FullName);
        string committed = InteropFixtureGenerator.CommittedFolder();
        foreach (var (file, fresh) in new[]
        {
            (InteropFixtureGenerator.StateFileName, fixture.State),
            (InteropFixtureGenerator.ExpectedFileName, fixture.Expected),
        })
        {
            // Read with the independent reader, so this test does not depend on NormSharp's.
            var stored = TorchSafeTensors.Read(Path.Combine(committed, file));
            Assert.Equal(fresh.Keys.Order(StringComparer.Ordinal), stored.Keys.Order(StringComparer.Ordinal));
            int identical = 0;
            double worst = 0;
            foreach (var (key, value) in fresh)
            {
                var old = stored[key];
                Assert.True(value.dtype == old.dtype && value.shape.SequenceEqual(old.shape),
                    $"{file} \"{key}\": committed {old.dtype} [{string.Join(", ", old.shape)}], generated {value.dtype} [{string.Join(", ", value.shape)}]. Regenerate the fixture (Fixtures/README.md).");
                if (value.dtype == ScalarType.Int64)
                {
                    Assert.Equal(value.data<long>().ToArray(), old.data<long>().ToArray());
                    identical++;
                    continue;
                }
                double[] a = LibTorch.ToDoubles(old), b = LibTorch.ToDoubles(value);
                double scale = Math.Max(1, b.Max(Math.Abs)), error = a.Zip(b, (x, y) => Math.Abs(x - y)).Max() / scale;
                Assert.True(error <= DriftTolerance,
                    $"{file} \"{key}\" drifted from what the generator writes: max |committed - generated| / max(1, max |generated|) = {error:G3}. Regenerate the fixture (Fixtures/README.md).");
                worst = Math.Max(worst, error);
                identical += a.SequenceEqual(b) ? 1 : 0;
            }
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{file}: {identical} of {fresh.Count} tensors bit-identical to a fresh generation, largest relative difference {worst:G3}."));
        }
    }

    [Fact]
    public void A_NormSharp_checkpoint_loads_into_TorchSharp_and_reproduces_NormSharp()
    {
        using var scope = NewDisposeScope();
        var check = new OracleCase("Interop NormSharp->TorchSharp", "seed=4700, 3 SGD steps in NormSharp, Checkpoint.Save, read by TorchSafeTensors, TorchSharp load_state_dict(strict)");
        var inputs = new Inputs(4700);
        var model = InteropFixtureGenerator.CreateNormSharpModel(new Generator(4700));
        var optimizer = new SGD(model.Parameters(), lr: 0.1, momentum: 0.9);
        model.Train();
        for (int step = 0; step < 3; step++)
        {
            optimizer.ZeroGrad();
            var x = inputs.Randn(mean: 1, std: 2, 16, 1, 8, 8);
            var labels = Enumerable.Range(0, 16).Select(i => (i * 7 + step) % 3).ToArray();
            F.CrossEntropy(model.Forward(x), labels).Backward();
            optimizer.Step();
        }
        string path = Path.Combine(temporary.FullName, "normsharp.safetensors");
        Checkpoint.Save(path, model);

        var state = TorchSafeTensors.Read(path);
        var torchModel = InteropFixtureGenerator.CreateTorchModel();
        var (missing, unexpected) = torchModel.load_state_dict(state, strict: true);
        Assert.Empty(missing);
        Assert.Empty(unexpected);
        foreach (var (key, value) in torchModel.state_dict())
        {
            Assert.True(value.dtype == state[key].dtype, $"\"{key}\": TorchSharp holds {value.dtype}, the file {state[key].dtype}.");
        }
        Assert.Equal(3L, torchModel.state_dict()["6.num_batches_tracked"].item<long>());
        // libtorch's answer in float64 from the float32 values NormSharp wrote (see InteropFixtureGenerator).
        torchModel.to(ScalarType.Float64);

        var input = inputs.Randn(mean: 0.5, std: 1.5, 6, 1, 8, 8);
        var torchInput = LibTorch.From(input, dtype: ScalarType.Float64);
        model.Eval();
        torchModel.eval();
        using (torch.no_grad())
        {
            Compare(check, "eval output", model.Forward(input), torchModel.forward(torchInput));
            model.Train();
            torchModel.train();
            Compare(check, "train output", model.Forward(input), torchModel.forward(torchInput));
        }
        var buffers = torchModel.named_buffers().ToDictionary(p => InteropFixtureGenerator.TrainStatePrefix + p.name, p => p.buffer, StringComparer.Ordinal);
        AssertBuffersMatch(check, model, buffers);
        output.WriteLine(log.ToString());
    }

    /// <summary>Asserts through <paramref name="check"/> and logs the measured error for the test output.</summary>
    private void Compare(OracleCase check, string quantity, Tensor actual, TorchTensor expected)
    {
        double[] a = actual.ToArray().Select(v => (double)v).ToArray(), b = LibTorch.ToDoubles(expected);
        double error = a.Zip(b, (x, y) => Math.Abs(x - y)).DefaultIfEmpty(0).Max() / Math.Max(1, b.Max(Math.Abs));
        log.AppendLine(string.Create(CultureInfo.InvariantCulture, $"  {quantity}: max |NormSharp - libtorch| / max(1, max |libtorch|) = {error:G3}"));
        check.Close(quantity, actual, expected);
    }

    /// <summary>NormSharp's state after loading is the written state: F32 values bit for bit, counters exactly.</summary>
    private static void AssertHoldsWrittenState(Module model, Dictionary<string, TorchTensor> written)
    {
        var state = model.StateDict();
        Assert.Equal(written.Keys.Order(StringComparer.Ordinal), state.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, value) in state)
        {
            if (value is Int64Scalar counter)
            {
                Assert.Equal(written[key].item<long>(), counter.Value);
                Assert.Equal(InteropFixtureGenerator.TrainingSteps, counter.Value);
            }
            else
            {
                Assert.Equal(written[key].data<float>().ToArray(), value.ToArray());
            }
        }
    }

    /// <summary>Compares every buffer of <paramref name="model"/> with <paramref name="expected"/>'s
    /// <c>train.state.</c> entries: running statistics within the suite's tolerance, counters exactly.</summary>
    private void AssertBuffersMatch(OracleCase check, Module model, Dictionary<string, TorchTensor> expected)
    {
        var state = model.StateDict();
        var keys = expected.Keys.Where(k => k.StartsWith(InteropFixtureGenerator.TrainStatePrefix, StringComparison.Ordinal)).ToList();
        Assert.Equal(6, keys.Count);
        foreach (string key in keys)
        {
            string name = key[InteropFixtureGenerator.TrainStatePrefix.Length..];
            if (state[name] is Int64Scalar counter)
            {
                Assert.Equal(expected[key].item<long>(), counter.Value);
            }
            else
            {
                Compare(check, "after train forward " + name, state[name], expected[key]);
            }
        }
    }
}
