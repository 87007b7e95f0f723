// Shared normalization reference kernels. Derivations: docs/derivations/batchnorm.md (statistics, closed-form
// backward) and docs/derivations/layernorm.md (the other views: LayerNorm, GroupNorm, InstanceNorm, RMSNorm).

using System.Numerics;

namespace NormSharp.Kernels;

/// <summary>
/// How the statistics used by <see cref="NormalizationReference.Normalize{T}"/> depend on the input,
/// which decides the closed form of the backward pass (docs/derivations/batchnorm.md, layernorm.md).
/// </summary>
internal enum NormStatistics
{
    /// <summary>mean and invStd are constants (running statistics in evaluation mode): dx = dŷ · invStd.</summary>
    Constant,

    /// <summary>mean and biased variance of the reduced elements (BatchNorm in training, LayerNorm, GroupNorm, InstanceNorm).</summary>
    MeanAndVariance,

    /// <summary>mean fixed at 0 and invStd = 1/√(mean(x²) + eps) (RMSNorm).</summary>
    MeanSquare,
}

/// <summary>
/// Readable reference kernels shared by every normalization layer. Each layer views its input as
/// [outer, channels, inner] and these kernels reduce, per channel, over outer × inner; the layers
/// differ only in which view they pick ("the difference is simply which axes are reduced"):
/// <list type="bullet">
/// <item>BatchNorm, channels first (N, C, *): outer = N, channels = C, inner = ∏ spatial.</item>
/// <item>BatchNorm, channels last (N, *, C): outer = N · ∏ spatial, channels = C, inner = 1.</item>
/// <item>LayerNorm / RMSNorm: outer = 1, channels = rows, inner = ∏ normalizedShape; affine over a second view [rows, features, 1].</item>
/// <item>GroupNorm: outer = 1, channels = N · G, inner = C/G · ∏ spatial; affine over a second view [N, C, ∏ spatial].</item>
/// <item>InstanceNorm: GroupNorm with G = C.</item>
/// </list>
/// Scalar loops with double accumulators, span in, destination last. Generic over the element type
/// so that tests can run them in double and check the closed-form backward by finite differences.
/// Statistics (mean, variance, invStd) are always double: a sum or square of finite floats cannot overflow there.
/// The fast kernels (<see cref="BatchNormFast"/>, <see cref="RowNormFast"/>) are tested against these.
/// Derivation of the backward passes: docs/derivations/batchnorm.md and docs/derivations/layernorm.md.
/// </summary>
internal static class NormalizationReference
{
    /// <summary>
    /// Per-channel mean and biased variance over outer × inner, by the corrected two-pass algorithm:
    /// the second pass sums deviations from the first-pass mean, so a large common offset (mean 1e4,
    /// standard deviation 1e-2) cancels exactly instead of destroying the variance as E[x²] − E[x]² would.
    /// The variance is never negative. A channel with no elements gets mean 0 and variance 0.
    /// </summary>
    // input: [outer, channels, inner]; mean, variance: [channels]
    public static void Moments<T>(
        ReadOnlySpan<T> input, int outer, int channels, int inner,
        Span<double> mean, Span<double> variance)
        where T : IFloatingPointIeee754<T>
    {
        NormChecks.CheckView(input.Length, outer, channels, inner, nameof(input));
        NormChecks.CheckLength(mean.Length, channels, nameof(mean));
        NormChecks.CheckLength(variance.Length, channels, nameof(variance));
        long count = (long)outer * inner;
        for (int c = 0; c < channels; c++)
        {
            if (count == 0)
            {
                mean[c] = 0;
                variance[c] = 0;
                continue;
            }
            // first: the plain mean
            double sum = 0;
            for (int o = 0; o < outer; o++)
            {
                var row = input.Slice((o * channels + c) * inner, inner);
                for (int i = 0; i < inner; i++)
                {
                    sum += double.CreateTruncating(row[i]);
                }
            }
            double firstMean = sum / count;

            // second: squared deviations, plus the deviations themselves, whose sum is the rounding
            // error of firstMean (Chan, Golub and LeVeque's correction term)
            double squares = 0, deviations = 0;
            for (int o = 0; o < outer; o++)
            {
                var row = input.Slice((o * channels + c) * inner, inner);
                for (int i = 0; i < inner; i++)
                {
                    double d = double.CreateTruncating(row[i]) - firstMean;
                    squares += d * d;
                    deviations += d;
                }
            }
            mean[c] = firstMean + deviations / count;
            variance[c] = Math.Max(0, (squares - deviations * deviations / count) / count);
        }
    }

    /// <summary>invStd[c] = 1 / √(variance[c] + eps): eps inside the square root, as PyTorch and the paper.</summary>
    // variance, invStd: [channels]
    public static void InvStd(ReadOnlySpan<double> variance, double eps, Span<double> invStd)
    {
        NormChecks.CheckLength(invStd.Length, variance.Length, nameof(invStd));
        for (int c = 0; c < variance.Length; c++)
        {
            invStd[c] = 1 / Math.Sqrt(variance[c] + eps);
        }
    }

    /// <summary>
    /// output = (input − mean[c]) · invStd[c] · weight[c] + bias[c], computed in double and rounded once.
    /// An empty <paramref name="weight"/> means 1 and an empty <paramref name="bias"/> means 0.
    /// <paramref name="output"/> may be <paramref name="input"/>'s memory.
    /// </summary>
    // input, output: [outer, channels, inner]; mean, invStd: [channels]; weight, bias: [channels] or empty
    public static void Normalize<T>(
        ReadOnlySpan<T> input, int outer, int channels, int inner,
        ReadOnlySpan<double> mean, ReadOnlySpan<double> invStd, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias,
        Span<T> output)
        where T : IFloatingPointIeee754<T>
    {
        NormChecks.CheckChannelArguments(outer, channels, inner, input.Length, output.Length, nameof(output), mean.Length, invStd.Length, weight.Length, bias.Length);
        Affine(input, outer, channels, inner, mean, invStd, weight, bias, output);
    }

    /// <summary>
    /// destination = source · weight[c] + bias[c]: the affine step of the layers whose affine parameters
    /// live on a different view than their statistics (LayerNorm, GroupNorm, InstanceNorm, RMSNorm).
    /// Empty weight means 1, empty bias 0. <paramref name="destination"/> may be <paramref name="source"/>'s memory.
    /// </summary>
    // source, destination: [outer, channels, inner]; weight, bias: [channels] or empty
    public static void ScaleShift<T>(
        ReadOnlySpan<T> source, int outer, int channels, int inner,
        ReadOnlySpan<T> weight, ReadOnlySpan<T> bias,
        Span<T> destination)
        where T : IFloatingPointIeee754<T>
    {
        NormChecks.CheckView(source.Length, outer, channels, inner, nameof(source));
        NormChecks.CheckView(destination.Length, outer, channels, inner, nameof(destination));
        NormChecks.CheckOptional(weight.Length, channels, nameof(weight));
        NormChecks.CheckOptional(bias.Length, channels, nameof(bias));
        Affine(source, outer, channels, inner, default, default, weight, bias, destination);
    }

    // output = (input − mean[c]) · invStd[c] · weight[c] + bias[c] in double, rounded once; an empty span is the
    // identity (mean 0, invStd 1, weight 1, bias 0), which leaves the double value exact.
    private static void Affine<T>(
        ReadOnlySpan<T> input, int outer, int channels, int inner,
        ReadOnlySpan<double> mean, ReadOnlySpan<double> invStd, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias,
        Span<T> output)
        where T : IFloatingPointIeee754<T>
    {
        for (int o = 0; o < outer; o++)
        {
            for (int c = 0; c < channels; c++)
            {
                double center = mean.IsEmpty ? 0 : mean[c];
                double scale = (invStd.IsEmpty ? 1 : invStd[c]) * (weight.IsEmpty ? 1 : double.CreateTruncating(weight[c]));
                double shift = bias.IsEmpty ? 0 : double.CreateTruncating(bias[c]);
                int start = (o * channels + c) * inner;
                for (int i = start; i < start + inner; i++)
                {
                    output[i] = T.CreateTruncating((double.CreateTruncating(input[i]) - center) * scale + shift);
                }
            }
        }
    }

    /// <summary>
    /// Backward of <see cref="ScaleShift{T}"/> (y = x̂ · weight[c] + bias[c]): gradNormalized = gradOutput · weight[c],
    /// gradWeight[c] = Σ gradOutput · x̂, gradBias[c] = Σ gradOutput over outer × inner.
    /// Each destination may be empty, and is then skipped; <paramref name="normalized"/> is read only for gradWeight.
    /// </summary>
    // gradOutput, normalized, gradNormalized: [outer, channels, inner]; weight, gradWeight, gradBias: [channels] or empty
    public static void ScaleShiftBackward<T>(
        ReadOnlySpan<T> gradOutput, ReadOnlySpan<T> normalized, int outer, int channels, int inner,
        ReadOnlySpan<T> weight,
        Span<T> gradNormalized, Span<T> gradWeight, Span<T> gradBias)
        where T : IFloatingPointIeee754<T>
    {
        NormChecks.CheckView(gradOutput.Length, outer, channels, inner, nameof(gradOutput));
        NormChecks.CheckOptional(weight.Length, channels, nameof(weight));
        if (!gradNormalized.IsEmpty)
        {
            NormChecks.CheckView(gradNormalized.Length, outer, channels, inner, nameof(gradNormalized));
        }
        if (!gradWeight.IsEmpty)
        {
            NormChecks.CheckLength(gradWeight.Length, channels, nameof(gradWeight));
            NormChecks.CheckView(normalized.Length, outer, channels, inner, nameof(normalized));
        }
        NormChecks.CheckOptional(gradBias.Length, channels, nameof(gradBias));
        for (int c = 0; c < channels; c++)
        {
            double scale = weight.IsEmpty ? 1 : double.CreateTruncating(weight[c]);
            double sumGrad = 0, sumGradNormalized = 0;
            for (int o = 0; o < outer; o++)
            {
                int start = (o * channels + c) * inner;
                for (int i = start; i < start + inner; i++)
                {
                    double g = double.CreateTruncating(gradOutput[i]);
                    sumGrad += g;
                    if (!gradWeight.IsEmpty)
                    {
                        sumGradNormalized += g * double.CreateTruncating(normalized[i]);
                    }
                    if (!gradNormalized.IsEmpty)
                    {
                        gradNormalized[i] = T.CreateTruncating(g * scale);
                    }
                }
            }
            if (!gradWeight.IsEmpty)
            {
                gradWeight[c] = T.CreateTruncating(sumGradNormalized);
            }
            if (!gradBias.IsEmpty)
            {
                gradBias[c] = T.CreateTruncating(sumGrad);
            }
        }
    }

    /// <summary>
    /// Closed-form backward of <see cref="Normalize{T}"/>, y = x̂ · w[c] + b[c] with x̂ = (x − mean[c]) · invStd[c],
    /// over M = outer × inner elements per channel (docs/derivations/batchnorm.md):
    /// <list type="bullet">
    /// <item><see cref="NormStatistics.MeanAndVariance"/>: dx = w · invStd / M · (M · dy − Σ dy − x̂ · Σ dy · x̂).</item>
    /// <item><see cref="NormStatistics.MeanSquare"/> (mean = 0): dx = w · invStd / M · (M · dy − x̂ · Σ dy · x̂).</item>
    /// <item><see cref="NormStatistics.Constant"/>: dx = w · invStd · dy.</item>
    /// </list>
    /// and gradWeight[c] = Σ dy · x̂, gradBias[c] = Σ dy. x̂ is recomputed from the input in double.
    /// Empty weight means 1; each destination may be empty, and is then skipped.
    /// </summary>
    // input, gradOutput, gradInput: [outer, channels, inner]; mean, invStd: [channels];
    // weight, gradWeight, gradBias: [channels] or empty
    public static void NormalizeBackward<T>(
        ReadOnlySpan<T> input, ReadOnlySpan<T> gradOutput, int outer, int channels, int inner,
        ReadOnlySpan<double> mean, ReadOnlySpan<double> invStd, ReadOnlySpan<T> weight, NormStatistics statistics,
        Span<T> gradInput, Span<T> gradWeight, Span<T> gradBias)
        where T : IFloatingPointIeee754<T>
    {
        NormChecks.CheckChannelArguments(outer, channels, inner, input.Length, gradOutput.Length, nameof(gradOutput), mean.Length, invStd.Length, weight.Length, 0);
        NormChecks.CheckGradients(outer, channels, inner, gradInput.Length, gradWeight.Length, gradBias.Length);
        long count = (long)outer * inner;
        for (int c = 0; c < channels; c++)
        {
            // first: the two reductions, Σ dy and Σ dy · x̂
            double sumGrad = 0, sumGradNormalized = 0;
            for (int o = 0; o < outer; o++)
            {
                int start = (o * channels + c) * inner;
                for (int i = start; i < start + inner; i++)
                {
                    double g = double.CreateTruncating(gradOutput[i]);
                    double normalized = (double.CreateTruncating(input[i]) - mean[c]) * invStd[c];
                    sumGrad += g;
                    sumGradNormalized += g * normalized;
                }
            }
            if (!gradWeight.IsEmpty)
            {
                gradWeight[c] = T.CreateTruncating(sumGradNormalized);
            }
            if (!gradBias.IsEmpty)
            {
                gradBias[c] = T.CreateTruncating(sumGrad);
            }
            if (gradInput.IsEmpty)
            {
                continue;
            }

            // second: dx per element; the statistics' own dependence on x is what the mean terms remove
            double scale = invStd[c] * (weight.IsEmpty ? 1 : double.CreateTruncating(weight[c]));
            double meanGrad = statistics == NormStatistics.MeanAndVariance ? sumGrad / count : 0;
            double meanGradNormalized = statistics == NormStatistics.Constant ? 0 : sumGradNormalized / count;
            for (int o = 0; o < outer; o++)
            {
                int start = (o * channels + c) * inner;
                for (int i = start; i < start + inner; i++)
                {
                    double g = double.CreateTruncating(gradOutput[i]);
                    double normalized = (double.CreateTruncating(input[i]) - mean[c]) * invStd[c];
                    gradInput[i] = T.CreateTruncating(scale * (g - meanGrad - normalized * meanGradNormalized));
                }
            }
        }
    }
}
