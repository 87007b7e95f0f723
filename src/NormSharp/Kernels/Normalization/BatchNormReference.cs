// Batch normalization reference kernels. Derivation of the forward statistics and the closed-form backward:
// docs/derivations/batchnorm.md.

using System.Numerics;

namespace NormSharp.Kernels;

/// <summary>
/// Batch normalization, reference kernels: the readable definition every faster kernel is tested against.
/// The input is viewed as [outer, channels, inner] (channels first: N, C, ∏ spatial; channels last:
/// N · ∏ spatial, C, 1) and statistics are per channel over outer × inner = M elements.
/// Forward (training): mean, biased variance σ² = Σ (x − mean)² / M, invStd = 1/√(σ² + eps),
/// y = (x − mean) · invStd · weight + bias; running statistics move by
/// running = (1 − momentum) · running + momentum · batch, with the unbiased variance σ² · M / (M − 1)
/// (<see cref="RunningStatistics.Update{T}"/>, shared with the fast kernels and InstanceNorm).
/// Backward: the closed form derived in docs/derivations/batchnorm.md.
/// </summary>
internal static class BatchNormReference
{
    /// <summary>
    /// Training forward: batch statistics, normalized output, and (when <paramref name="runningMean"/> and
    /// <paramref name="runningVar"/> are not empty) the running-statistics update with factor
    /// <paramref name="momentum"/>. With no elements per channel (M = 0) the running statistics are left as
    /// they are, as PyTorch returns early on empty input. M = 1 gives an unbiased variance of NaN: the layers
    /// refuse that input before they get here.
    /// </summary>
    // input, output: [outer, channels, inner]; weight, bias: [channels] or empty (1 and 0);
    // runningMean, runningVar: [channels] or empty (updated in place); mean, invStd: [channels] (saved for the backward)
    public static void ForwardTraining<T>(
        ReadOnlySpan<T> input, int outer, int channels, int inner,
        ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, double eps, double momentum,
        Span<T> runningMean, Span<T> runningVar,
        Span<double> mean, Span<double> invStd, Span<T> output)
        where T : IFloatingPointIeee754<T>
    {
        var variance = new double[channels];
        NormalizationReference.Moments(input, outer, channels, inner, mean, variance);
        NormalizationReference.InvStd(variance, eps, invStd);
        if (!runningMean.IsEmpty)
        {
            RunningStatistics.Update(mean, variance, (long)outer * inner, momentum, runningMean, runningVar);
        }
        NormalizationReference.Normalize(input, outer, channels, inner, mean, invStd, weight, bias, output);
    }

    /// <summary>
    /// Evaluation forward with running statistics: y = (x − runningMean) / √(runningVar + eps) · weight + bias.
    /// Writes the statistics it used to <paramref name="mean"/> and <paramref name="invStd"/> for the backward.
    /// </summary>
    // input, output: [outer, channels, inner]; weight, bias: [channels] or empty;
    // runningMean, runningVar, mean, invStd: [channels]
    public static void ForwardInference<T>(
        ReadOnlySpan<T> input, int outer, int channels, int inner,
        ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, ReadOnlySpan<T> runningMean, ReadOnlySpan<T> runningVar, double eps,
        Span<double> mean, Span<double> invStd, Span<T> output)
        where T : IFloatingPointIeee754<T>
    {
        NormChecks.CheckLength(runningMean.Length, channels, nameof(runningMean));
        NormChecks.CheckLength(runningVar.Length, channels, nameof(runningVar));
        NormChecks.CheckLength(mean.Length, channels, nameof(mean));
        var variance = new double[channels];
        for (int c = 0; c < channels; c++)
        {
            mean[c] = double.CreateTruncating(runningMean[c]);
            variance[c] = double.CreateTruncating(runningVar[c]);
        }
        NormalizationReference.InvStd(variance, eps, invStd);
        NormalizationReference.Normalize(input, outer, channels, inner, mean, invStd, weight, bias, output);
    }

    /// <summary>
    /// Backward in closed form (docs/derivations/batchnorm.md), in one fused pass pair per channel:
    /// with x̂ = (x − mean) · invStd and M = outer × inner,
    /// training: dx = weight · invStd / M · (M · dy − Σ dy − x̂ · Σ dy · x̂);
    /// evaluation (running statistics are constants): dx = weight · invStd · dy;
    /// both: gradWeight = Σ dy · x̂, gradBias = Σ dy. Empty destinations are skipped (nobody needs them).
    /// </summary>
    // input, gradOutput, gradInput: [outer, channels, inner]; weight: [channels] or empty; mean, invStd: [channels];
    // gradInput, gradWeight, gradBias: may be empty
    public static void Backward<T>(
        ReadOnlySpan<T> input, ReadOnlySpan<T> gradOutput, int outer, int channels, int inner,
        ReadOnlySpan<T> weight, ReadOnlySpan<double> mean, ReadOnlySpan<double> invStd, bool training,
        Span<T> gradInput, Span<T> gradWeight, Span<T> gradBias)
        where T : IFloatingPointIeee754<T>
    {
        NormalizationReference.NormalizeBackward(
            input, gradOutput, outer, channels, inner, mean, invStd, weight,
            training ? NormStatistics.MeanAndVariance : NormStatistics.Constant,
            gradInput, gradWeight, gradBias);
    }
}
