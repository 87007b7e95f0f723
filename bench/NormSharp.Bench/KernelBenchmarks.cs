using BenchmarkDotNet.Attributes;
using NormSharp.Kernels;

namespace NormSharp.Bench;

/// <summary>BenchmarkDotNet microbenchmarks of the kernels (run with <c>--bdn</c>), fast path against reference where cheap enough.</summary>
[MemoryDiagnoser]
public class GemmBenchmarks
{
    private float[] a = [], b = [], c = [];

    [Params(64, 256, 512)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        a = TorchUtil.Normal(1, Size * Size);
        b = TorchUtil.Normal(2, Size * Size);
        c = new float[Size * Size];
    }

    [Benchmark]
    public void Multiply() => Gemm.Multiply(a, b, Size, Size, Size, false, false, false, c);

    [Benchmark]
    public void MultiplyTransposedB() => Gemm.Multiply(a, b, Size, Size, Size, false, true, false, c);
}

/// <summary>Batch-norm kernels on a (32, 64, 56, 56) activation in both layouts, and the reference on a smaller one.</summary>
[MemoryDiagnoser]
public class BatchNormBenchmarks
{
    private const int Batch = 32, Channels = 64, Spatial = 56 * 56;
    private float[] x = [], dy = [], y = [], dx = [], weight = [], bias = [], runningMean = [], runningVar = [];
    private double[] mean = [], invStd = [];

    [Params(true, false)]
    public bool ChannelsLast { get; set; }

    private (int Outer, int Inner) View => ChannelsLast ? (Batch * Spatial, 1) : (Batch, Spatial);

    [GlobalSetup]
    public void Setup()
    {
        int count = Batch * Channels * Spatial;
        x = TorchUtil.Normal(1, count);
        dy = TorchUtil.Normal(2, count);
        y = new float[count];
        dx = new float[count];
        weight = TorchUtil.Normal(3, Channels, mean: 1f, std: 0.1f);
        bias = TorchUtil.Normal(4, Channels, std: 0.1f);
        runningMean = new float[Channels];
        runningVar = new float[Channels];
        Array.Fill(runningVar, 1f);
        mean = new double[Channels];
        invStd = new double[Channels];
    }

    [Benchmark]
    public void TrainingForward() =>
        BatchNormFast.ForwardTraining(x, View.Outer, Channels, View.Inner, weight, bias, 1e-5, 0.1, runningMean, runningVar, mean, invStd, y);

    [Benchmark]
    public void Backward() =>
        BatchNormFast.Backward(x, dy, View.Outer, Channels, View.Inner, weight, bias, mean, invStd, true, dx, new float[Channels], new float[Channels]);

    [Benchmark]
    public void EvalForward() =>
        BatchNormFast.ForwardInference(x, View.Outer, Channels, View.Inner, weight, bias, runningMean, runningVar, 1e-5, mean, invStd, y);

    [Benchmark]
    public void Copy() => x.AsSpan().CopyTo(y);

    [Benchmark]
    public void ReferenceTrainingForwardOneSample() =>
        BatchNormReference.ForwardTraining<float>(x.AsSpan(0, Channels * Spatial), ChannelsLast ? Spatial : 1, Channels, ChannelsLast ? 1 : Spatial,
            weight, bias, 1e-5, 0.1, runningMean, runningVar, mean, invStd, y.AsSpan(0, Channels * Spatial));
}
