using System.Globalization;
using NormSharp.Nn;
using TorchSharp;
using static TorchSharp.torch;
using TorchTensor = TorchSharp.torch.Tensor;

namespace NormSharp.Oracle;

/// <summary>
/// Generates the interop fixture tests/NormSharp.Tests/Fixtures/torchsharp-bn-cnn*.safetensors: a small CNN with
/// batch norm built, trained and evaluated by libtorch through TorchSharp's own modules, its state dict written by
/// an independent safetensors writer (<see cref="TorchSafeTensors"/>, no NormSharp code), and libtorch's outputs
/// written beside it. How to run it: tests/NormSharp.Tests/Fixtures/README.md.
/// </summary>
/// <remarks>
/// <para>Architecture (PyTorch keys in brackets): Conv2d(1, 4, 3, padding 1) [0.weight, 0.bias], BatchNorm2d(4)
/// [1.weight, 1.bias, 1.running_mean, 1.running_var, 1.num_batches_tracked], ReLU, MaxPool2d(2), Flatten,
/// Linear(64, 8) [5.*], BatchNorm1d(8) with a cumulative running average (PyTorch's momentum=None) [6.*], ReLU,
/// Linear(8, 3) [8.*]; input [N, 1, 8, 8]. The cumulative average makes num_batches_tracked matter: the next
/// training forward weighs its batch by 1 / (num_batches_tracked + 1).</para>
/// <para>Training and every expected value are computed in float64: libtorch's float32 convolution goes
/// through oneDNN, which on this project's AMD EPYC machines returns wrong backward results (see
/// <see cref="ConvPoolLossOracleTests"/>); float64 does not use oneDNN and is deterministic here on one thread.
/// The trained model is then rounded to float32 (the written state dict), and the expected outputs are
/// computed in float64 from exactly those float32 values.</para>
/// </remarks>
internal static class InteropFixtureGenerator
{
    /// <summary>The state dict: PyTorch keys, F32 parameters and buffers, I64 [] num_batches_tracked.</summary>
    public const string StateFileName = "torchsharp-bn-cnn.safetensors";

    /// <summary>The fixture input (F32) and libtorch's results for it (F64, I64).</summary>
    public const string ExpectedFileName = "torchsharp-bn-cnn.expected.safetensors";

    /// <summary>Key of the input batch [6, 1, 8, 8], F32.</summary>
    public const string InputKey = "input";

    /// <summary>Key of the evaluation-mode output [6, 3], F64.</summary>
    public const string EvalOutputKey = "eval.output";

    /// <summary>Key of the output [6, 3] of one training-mode forward after loading, F64.</summary>
    public const string TrainOutputKey = "train.output";

    /// <summary>Prefix of every buffer after that training forward (<c>train.state.1.running_mean</c>, <c>train.state.6.num_batches_tracked</c>).</summary>
    public const string TrainStatePrefix = "train.state.";

    /// <summary>Optimizer steps taken before the state is written (the fixture's num_batches_tracked).</summary>
    public const int TrainingSteps = 5;

    private const int Seed = 20260107;

    /// <summary>The architecture built from TorchSharp's modules (float32, fresh parameters from libtorch's global generator).</summary>
    public static TorchSharp.Modules.Sequential CreateTorchModel()
    {
        // TorchSharp's factory takes momentum as a double (0 freezes the statistics, as in PyTorch); PyTorch's
        // momentum=None, the cumulative average, is set through the module's nullable property.
        var cumulative = nn.BatchNorm1d(8);
        cumulative.momentum = null;
        return nn.Sequential(
            nn.Conv2d(1, 4, 3, padding: 1),
            nn.BatchNorm2d(4),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64, 8),
            cumulative,
            nn.ReLU(),
            nn.Linear(8, 3));
    }

    /// <summary>The same architecture from NormSharp's modules.</summary>
    public static Sequential CreateNormSharpModel(Generator? generator = null) => new(
        new Conv2d(1, 4, 3, padding: 1, generator: generator),
        new BatchNorm2d(4),
        new ReLU(),
        new MaxPool2d(2),
        new Flatten(),
        new Linear(64, 8, generator: generator),
        new BatchNorm1d(8, momentum: null),
        new ReLU(),
        new Linear(8, 3, generator: generator));

    /// <summary>
    /// Builds, trains and evaluates the model in libtorch and writes <see cref="StateFileName"/> and
    /// <see cref="ExpectedFileName"/> to <paramref name="folder"/>. Returns libtorch's tensors as written
    /// (callers own them; open a dispose scope around the call to free them).
    /// </summary>
    public static InteropFixture Generate(string folder)
    {
        LibTorch.EnsureLoaded();
        torch.manual_seed(Seed);
        var model = CreateTorchModel();

        // A few SGD steps in float64 on shifted data, so that every parameter moves and the running
        // statistics are far from their initial 0 and 1.
        model.to(ScalarType.Float64);
        model.train();
        var optimizer = torch.optim.SGD(model.parameters(), 0.1, momentum: 0.9);
        for (int step = 0; step < TrainingSteps; step++)
        {
            using var stepScope = NewDisposeScope();
            var x = torch.randn([16, 1, 8, 8], ScalarType.Float64) * 2 + 1;
            var labels = torch.randint(0, 3, [16], ScalarType.Int64);
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(model.forward(x), labels);
            loss.backward();
            optimizer.step();
        }

        // The written state: the trained model rounded to float32; num_batches_tracked stays int64.
        model.to(ScalarType.Float32);
        var state = model.state_dict().ToDictionary(p => p.Key, p => p.Value.detach().clone(), StringComparer.Ordinal);

        // libtorch's results, in float64 from exactly the written float32 values.
        model.to(ScalarType.Float64);
        var input = torch.randn([6, 1, 8, 8], ScalarType.Float32) * 1.5f + 0.5f;
        var input64 = input.to_type(ScalarType.Float64);
        var expected = new Dictionary<string, TorchTensor>(StringComparer.Ordinal) { [InputKey] = input };
        using (torch.no_grad())
        {
            model.eval();
            expected[EvalOutputKey] = model.forward(input64);
            model.train();
            expected[TrainOutputKey] = model.forward(input64);
        }
        foreach (var (name, buffer) in model.named_buffers())
        {
            expected[TrainStatePrefix + name] = buffer.detach().clone();
        }

        string producer = $"TorchSharp {typeof(torch).Assembly.GetName().Version} / libtorch {torch.__version__}";
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["format"] = "pt",
            ["generator"] = "tests/NormSharp.Oracle/InteropFixtureGenerator.cs",
            ["producer"] = producer,
        };
        string statePath = Path.Combine(folder, StateFileName), expectedPath = Path.Combine(folder, ExpectedFileName);
        TorchSafeTensors.Write(statePath, state, metadata);
        TorchSafeTensors.Write(expectedPath, expected, new Dictionary<string, string>(metadata, StringComparer.Ordinal)
        {
            ["contents"] = string.Create(CultureInfo.InvariantCulture,
                $"{InputKey}: fixed input; {EvalOutputKey}: eval forward; {TrainOutputKey} and {TrainStatePrefix}<buffer>: one training forward after loading; float64 from the float32 state"),
        });
        return new InteropFixture(statePath, expectedPath, state, expected);
    }

    /// <summary>The folder the fixture is committed in (tests/NormSharp.Tests/Fixtures), found from the test assembly's location.</summary>
    public static string CommittedFolder()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "NormSharp.slnx")))
            {
                return Path.Combine(folder.FullName, "tests", "NormSharp.Tests", "Fixtures");
            }
        }
        throw new DirectoryNotFoundException($"No NormSharp.slnx above {AppContext.BaseDirectory}: cannot find the committed fixtures.");
    }
}

/// <summary>What <see cref="InteropFixtureGenerator.Generate"/> wrote: the two paths and the tensors in each file.</summary>
internal sealed record InteropFixture(
    string StatePath, string ExpectedPath, Dictionary<string, TorchTensor> State, Dictionary<string, TorchTensor> Expected);
