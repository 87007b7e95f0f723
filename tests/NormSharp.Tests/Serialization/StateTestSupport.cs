using NormSharp.Autograd;
using NormSharp.Nn;

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
