using NormSharp.Autograd;
using NormSharp.Nn;
using NormSharp.Serialization;

namespace NormSharp.Tests.Serialization;

/// <summary>
/// A test-only normalization layer with the state layout of PyTorch's BatchNorm1d (weight, bias,
/// running_mean, running_var, num_batches_tracked as an int64 counter): y = (x - mean) · weight + bias,
/// with the batch mean in training and the running mean in evaluation.
/// </summary>
internal sealed class ToyNorm : Module
{
    public ToyNorm(int features)
    {
        Weight = RegisterParameter("weight", new Parameter(Tensor.Ones(features)))!;
        Bias = RegisterParameter("bias", new Parameter(Tensor.Zeros(features)))!;
        RunningMean = RegisterBuffer("running_mean", Tensor.Zeros(features))!;
        RunningVar = RegisterBuffer("running_var", Tensor.Ones(features))!;
        RegisterCounter("num_batches_tracked", () => NumBatchesTracked, v => NumBatchesTracked = v);
    }

    public Parameter Weight { get; }

    public Parameter Bias { get; }

    public Tensor RunningMean { get; }

    public Tensor RunningVar { get; }

    public long NumBatchesTracked { get; set; }

    public override Tensor Forward(Tensor input)
    {
        if (!Training)
        {
            return (input - RunningMean) * Weight + Bias;
        }
        var mean = input.Mean(0);
        var centered = input - mean;
        using (new NoGrad())
        {
            var variance = (centered * centered).Mean(0);
            var newMean = RunningMean * 0.9f + mean.Detach() * 0.1f;
            var newVar = RunningVar * 0.9f + variance * 0.1f;
            newMean.AsSpan().CopyTo(RunningMean.AsSpan());
            newVar.AsSpan().CopyTo(RunningVar.AsSpan());
        }
        NumBatchesTracked++;
        return centered * Weight + Bias;
    }
}

/// <summary>
/// A module with a named child, for nested keys (<c>features.1.running_mean</c>). Its batch norm keeps a
/// cumulative average (momentum: null), so its running statistics depend on num_batches_tracked.
/// </summary>
internal sealed class Net : Module
{
    public Net(Generator generator)
    {
        Features = RegisterModule("features", new Sequential(new Linear(3, 4, generator: generator), new BatchNorm1d(4, momentum: null), new ReLU()));
        Head = RegisterModule("head", new Linear(4, 2, bias: false, generator: generator));
    }

    public Sequential Features { get; }

    public Linear Head { get; }

    public override Tensor Forward(Tensor input) => Head.Forward(Features.Forward(input));
}

/// <summary>
/// Test-only SGD with momentum and Adam implementing <see cref="IStateful"/> with the key layout the
/// library's optimizers use (state.{i}.momentum_buffer, state.{i}.exp_avg, state.{i}.exp_avg_sq,
/// state.{i}.step), so that checkpoints can be tested independently of the Optim folder.
/// </summary>
internal sealed class TestOptimizer(IEnumerable<Parameter> parameters, bool adam, float learningRate) : IStateful
{
    private readonly List<Parameter> parameters = [.. parameters];
    private readonly Dictionary<int, float[]> first = [];
    private readonly Dictionary<int, float[]> second = [];
    private readonly Dictionary<int, long> steps = [];

    public void Step()
    {
        for (int i = 0; i < parameters.Count; i++)
        {
            var p = parameters[i];
            if (p.Grad is null)
            {
                continue;
            }
            var grad = p.Grad.ToArray();
            var value = p.AsSpan();
            long step = steps[i] = steps.GetValueOrDefault(i) + 1;
            if (!adam)
            {
                // PyTorch SGD, momentum 0.9, dampening 0: buf = grad at the first step, then 0.9 buf + grad.
                if (!first.TryGetValue(i, out var buffer))
                {
                    first[i] = buffer = (float[])grad.Clone();
                }
                else
                {
                    for (int j = 0; j < grad.Length; j++)
                    {
                        buffer[j] = 0.9f * buffer[j] + grad[j];
                    }
                }
                for (int j = 0; j < grad.Length; j++)
                {
                    value[j] -= learningRate * buffer[j];
                }
                continue;
            }
            var m = first.TryGetValue(i, out var m0) ? m0 : first[i] = new float[grad.Length];
            var v = second.TryGetValue(i, out var v0) ? v0 : second[i] = new float[grad.Length];
            double correction1 = 1 - Math.Pow(0.9, step), correction2 = 1 - Math.Pow(0.999, step);
            for (int j = 0; j < grad.Length; j++)
            {
                m[j] = 0.9f * m[j] + 0.1f * grad[j];
                v[j] = 0.999f * v[j] + 0.001f * grad[j] * grad[j];
                value[j] -= (float)(learningRate * (m[j] / correction1) / (Math.Sqrt(v[j] / correction2) + 1e-8));
            }
        }
    }

    public Dictionary<string, Tensor> StateDict()
    {
        var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (i, step) in steps)
        {
            int[] shape = parameters[i].Shape;
            if (adam)
            {
                state[$"state.{i}.exp_avg"] = Tensor.FromArray(first[i], shape);
                state[$"state.{i}.exp_avg_sq"] = Tensor.FromArray(second[i], shape);
                state[$"state.{i}.step"] = new Int64Scalar(step);
            }
            else
            {
                state[$"state.{i}.momentum_buffer"] = Tensor.FromArray(first[i], shape);
            }
        }
        return state;
    }

    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state)
    {
        first.Clear();
        second.Clear();
        steps.Clear();
        foreach (var (key, value) in state)
        {
            var parts = key.Split('.');
            if (parts.Length != 3 || parts[0] != "state" || !int.TryParse(parts[1], out int i) || i < 0 || i >= parameters.Count)
            {
                throw new ArgumentException($"Unexpected optimizer state key \"{key}\".", nameof(state));
            }
            if ((parts[2] == "momentum_buffer") == adam)
            {
                throw new ArgumentException($"Optimizer state key \"{key}\" belongs to another optimizer.", nameof(state));
            }
            switch (parts[2])
            {
                case "momentum_buffer":
                    first[i] = value.ToArray();
                    steps[i] = 1;
                    break;
                case "exp_avg":
                    first[i] = value.ToArray();
                    break;
                case "exp_avg_sq":
                    second[i] = value.ToArray();
                    break;
                case "step":
                    steps[i] = ((Int64Scalar)value).Value;
                    break;
                default:
                    throw new ArgumentException($"Unexpected optimizer state key \"{key}\".", nameof(state));
            }
        }
    }
}

internal static class StateAssert
{
    /// <summary>Same keys in the same order and bit-identical values (exact integers for counters).</summary>
    public static void Equal(Dictionary<string, Tensor> expected, Dictionary<string, Tensor> actual)
    {
        Assert.Equal(expected.Keys, actual.Keys);
        foreach (var (key, e) in expected)
        {
            var a = actual[key];
            Assert.True(e.Shape.SequenceEqual(a.Shape), $"{key}: shape {string.Join(",", e.Shape)} vs {string.Join(",", a.Shape)}");
            if (e is Int64Scalar exact)
            {
                Assert.Equal(exact.Value, Assert.IsType<Int64Scalar>(a).Value);
                continue;
            }
            var eb = e.ToArray().Select(BitConverter.SingleToInt32Bits).ToArray();
            var ab = a.ToArray().Select(BitConverter.SingleToInt32Bits).ToArray();
            Assert.True(eb.SequenceEqual(ab), $"{key}: values differ");
        }
    }

    /// <summary>A state dict like <paramref name="template"/> with random floats and large counters.</summary>
    public static Dictionary<string, Tensor> Randomized(Dictionary<string, Tensor> template, int seed)
    {
        var generator = new Generator(seed);
        var random = new Random(seed);
        var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (key, value) in template)
        {
            state[key] = value is Int64Scalar
                ? new Int64Scalar((1L << 53) + random.NextInt64(1L << 40))
                : Tensor.Randn(generator, value.Shape);
        }
        return state;
    }
}

/// <summary>A temporary folder deleted with its contents on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "normsharp-tests-" + Guid.NewGuid().ToString("N"));

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
