using System.Numerics;

namespace NormSharp.Kernels;

/// <summary>The running-statistics update of every normalization path (BatchNorm fast and reference, InstanceNorm).</summary>
internal static class RunningStatistics
{
    /// <summary>
    /// PyTorch's update: runningMean = (1 − momentum) · runningMean + momentum · mean, and
    /// runningVar = (1 − momentum) · runningVar + momentum · variance · count / (count − 1) (unbiased), in double and
    /// rounded once. With no elements (count 0) the running statistics are left as they are, as PyTorch returns early
    /// on empty input; count 1 gives an unbiased variance of NaN, which the layers refuse before they get here.
    /// </summary>
    // mean, variance (biased), runningMean, runningVar: [channels]
    public static void Update<T>(
        ReadOnlySpan<double> mean, ReadOnlySpan<double> variance, long count, double momentum,
        Span<T> runningMean, Span<T> runningVar)
        where T : IFloatingPointIeee754<T>
    {
        int channels = mean.Length;
        NormChecks.CheckLength(variance.Length, channels, nameof(variance));
        NormChecks.CheckLength(runningMean.Length, channels, nameof(runningMean));
        NormChecks.CheckLength(runningVar.Length, channels, nameof(runningVar));
        if (count == 0)
        {
            return;
        }
        double bessel = (double)count / (count - 1);
        for (int c = 0; c < channels; c++)
        {
            runningMean[c] = T.CreateTruncating((1 - momentum) * double.CreateTruncating(runningMean[c]) + momentum * mean[c]);
            runningVar[c] = T.CreateTruncating((1 - momentum) * double.CreateTruncating(runningVar[c]) + momentum * variance[c] * bessel);
        }
    }
}
