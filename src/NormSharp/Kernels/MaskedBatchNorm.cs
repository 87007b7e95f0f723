using System.Runtime.CompilerServices;
// Masked batch normalization kernels: batch norm whose statistics skip padded positions. The derivation is batch
// norm's (docs/derivations/batchnorm.md) with the sums restricted to the valid positions and M their count
// (written out in docs/derivations/recurrent.md, "Masked batch norm").

namespace NormSharp.Kernels;

/// <summary>
/// Batch normalization over the valid positions of a padded batch. The input is viewed as [outer, channels, inner]
/// and the mask as [outer, inner]: channels first (N, C, L) is outer N, inner L; channels last (N, L, C) is
/// outer N · L, inner 1. Element (o, c, i) is valid when mask[o · inner + i] is 1, padding when it is 0.
/// Per channel over the M valid elements: mean, biased variance σ² (two passes, in double), invStd = 1/√(σ² + eps);
/// valid outputs y = (x − mean) · invStd · weight + bias, padded outputs 0. Backward, with x̂ = (x − mean) · invStd
/// and every sum over the valid elements: training dx = weight · invStd / M · (M · dy − Σ dy − x̂ · Σ dy · x̂),
/// evaluation dx = weight · invStd · dy; both gradWeight = Σ dy · x̂, gradBias = Σ dy; padded dx = 0.
/// Single-threaded and readable: the sequence layers it serves are small next to their GEMMs.
/// </summary>
internal static class MaskedBatchNorm
{
    /// <summary>The number of valid positions (mask entries equal to 1).</summary>
    // mask: [outer, inner]
    public static long CountValid(ReadOnlySpan<float> mask)
    {
        long count = 0;
        foreach (float m in mask)
        {
            count += m != 0 ? 1 : 0;
        }
        return count;
    }

    /// <summary>Mean and biased variance per channel over the valid elements (0 and 0 when none is valid).</summary>
    // input: [outer, channels, inner]; mask: [outer, inner]; mean, variance: [channels]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Moments(
        ReadOnlySpan<float> input, ReadOnlySpan<float> mask, int outer, int channels, int inner,
        Span<double> mean, Span<double> variance)
    {
        long count = CountValid(mask);
        mean.Clear();
        variance.Clear();
        if (count == 0)
        {
            return;
        }
        // Two passes: the shifted sum of squares keeps a channel with mean 1e4 and std 1e-2 exact.
        SumValid(input, mask, outer, channels, inner, center: default, mean);
        for (int c = 0; c < channels; c++)
        {
            mean[c] /= count;
        }
        SumValid(input, mask, outer, channels, inner, mean, variance);
        for (int c = 0; c < channels; c++)
        {
            variance[c] /= count;
        }
    }

    /// <summary>y = (x − mean) · invStd · weight + bias at valid elements, 0 at padded ones.</summary>
    // input, output: [outer, channels, inner]; mask: [outer, inner]; mean, invStd: [channels]; weight, bias: [channels] or empty
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Normalize(
        ReadOnlySpan<float> input, ReadOnlySpan<float> mask, int outer, int channels, int inner,
        ReadOnlySpan<double> mean, ReadOnlySpan<double> invStd, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        Span<float> output)
    {
        for (int o = 0; o < outer; o++)
        {
            for (int c = 0; c < channels; c++)
            {
                double scale = invStd[c] * (weight.IsEmpty ? 1.0 : weight[c]);
                double shift = bias.IsEmpty ? 0.0 : bias[c];
                int row = (o * channels + c) * inner;
                for (int i = 0; i < inner; i++)
                {
                    output[row + i] = mask[o * inner + i] != 0 ? (float)((input[row + i] - mean[c]) * scale + shift) : 0f;
                }
            }
        }
    }

    /// <summary>The closed-form backward described on the class; empty destinations are skipped.</summary>
    // input, gradOutput, gradInput: [outer, channels, inner]; mask: [outer, inner]; mean, invStd: [channels];
    // weight: [channels] or empty; gradInput, gradWeight, gradBias: may be empty
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(
        ReadOnlySpan<float> input, ReadOnlySpan<float> mask, ReadOnlySpan<float> gradOutput, int outer, int channels, int inner,
        ReadOnlySpan<double> mean, ReadOnlySpan<double> invStd, ReadOnlySpan<float> weight, bool training,
        Span<float> gradInput, Span<float> gradWeight, Span<float> gradBias)
    {
        long count = CountValid(mask);
        // First: the two reductions Σ dy and Σ dy · x̂ per channel.
        var sumGrad = new double[channels];
        var sumGradNormalized = new double[channels];
        for (int o = 0; o < outer; o++)
        {
            for (int c = 0; c < channels; c++)
            {
                int row = (o * channels + c) * inner;
                for (int i = 0; i < inner; i++)
                {
                    if (mask[o * inner + i] != 0)
                    {
                        double dy = gradOutput[row + i];
                        sumGrad[c] += dy;
                        sumGradNormalized[c] += dy * (input[row + i] - mean[c]) * invStd[c];
                    }
                }
            }
        }
        for (int c = 0; c < channels; c++)
        {
            if (!gradWeight.IsEmpty)
            {
                gradWeight[c] = (float)sumGradNormalized[c];
            }
            if (!gradBias.IsEmpty)
            {
                gradBias[c] = (float)sumGrad[c];
            }
        }
        if (gradInput.IsEmpty)
        {
            return;
        }
        // Then: dx per element; in evaluation the statistics are constants and only the scale remains.
        for (int o = 0; o < outer; o++)
        {
            for (int c = 0; c < channels; c++)
            {
                double scale = invStd[c] * (weight.IsEmpty ? 1.0 : weight[c]);
                double meanGrad = training ? sumGrad[c] / count : 0;
                double meanGradNormalized = training ? sumGradNormalized[c] / count : 0;
                int row = (o * channels + c) * inner;
                for (int i = 0; i < inner; i++)
                {
                    if (mask[o * inner + i] == 0)
                    {
                        gradInput[row + i] = 0f;
                        continue;
                    }
                    double normalized = (input[row + i] - mean[c]) * invStd[c];
                    gradInput[row + i] = (float)(scale * (gradOutput[row + i] - meanGrad - normalized * meanGradNormalized));
                }
            }
        }
    }

    /// <summary>Per channel, Σ x over the valid elements, or Σ (x − center)² when <paramref name="center"/> is given.</summary>
    // input: [outer, channels, inner]; mask: [outer, inner]; center: [channels] or empty; sums: [channels], cleared by the caller
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SumValid(
        ReadOnlySpan<float> input, ReadOnlySpan<float> mask, int outer, int channels, int inner,
        ReadOnlySpan<double> center, Span<double> sums)
    {
        for (int o = 0; o < outer; o++)
        {
            for (int c = 0; c < channels; c++)
            {
                int row = (o * channels + c) * inner;
                for (int i = 0; i < inner; i++)
                {
                    if (mask[o * inner + i] != 0)
                    {
                        double x = input[row + i];
                        sums[c] += center.IsEmpty ? x : (x - center[c]) * (x - center[c]);
                    }
                }
            }
        }
    }
}
