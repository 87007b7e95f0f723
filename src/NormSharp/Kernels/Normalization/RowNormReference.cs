// Row normalization reference kernels (LayerNorm, GroupNorm, InstanceNorm, RMSNorm). Derivation:
// docs/derivations/layernorm.md, building on docs/derivations/batchnorm.md.

using System.Numerics;

namespace NormSharp.Kernels;

/// <summary>
/// Normalization with statistics per row of a [rows, rowLength] view and an affine step on a second view
/// [affineOuter, affineChannels, affineInner] of the same data (see docs/derivations/layernorm.md):
/// <list type="bullet">
/// <item>LayerNorm / RMSNorm: rows = ∏ leading dims, rowLength = ∏ normalizedShape; affine [rows, rowLength, 1].</item>
/// <item>GroupNorm: rows = N · G, rowLength = C/G · ∏ spatial; affine [N, C, ∏ spatial].</item>
/// <item>InstanceNorm: rows = N · C, rowLength = ∏ spatial; affine [N, C, ∏ spatial].</item>
/// </list>
/// Built from the shared helpers of <see cref="NormalizationReference"/>: one statistics helper, one normalize
/// helper, one affine helper. Generic so that tests check the backward by finite differences in double.
/// </summary>
internal static class RowNormReference
{
    /// <summary>
    /// Per-row statistics, then y = x̂ · weight[a] + bias[a] with x̂ = (x − mean_row) · invStd_row.
    /// <paramref name="statistics"/> is <see cref="NormStatistics.MeanAndVariance"/> (biased variance) or
    /// <see cref="NormStatistics.MeanSquare"/> (RMSNorm: mean written as 0, <paramref name="variance"/> holds mean(x²)).
    /// Empty weight means 1, empty bias 0.
    /// </summary>
    // input, output: [rows, rowLength] = [affineOuter, affineChannels, affineInner]; weight, bias: [affineChannels] or empty;
    // mean, variance, invStd: [rows]
    public static void Forward<T>(
        ReadOnlySpan<T> input, int rows, int rowLength, int affineOuter, int affineChannels, int affineInner,
        ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, double eps, NormStatistics statistics,
        Span<double> mean, Span<double> variance, Span<double> invStd, Span<T> output)
        where T : IFloatingPointIeee754<T>
    {
        CheckStatistics(statistics);
        NormChecks.CheckView(input.Length, affineOuter, affineChannels, affineInner, nameof(input));

        // first: statistics per row (a row is one channel of the [1, rows, rowLength] view)
        NormalizationReference.Moments(input, 1, rows, rowLength, mean, variance);
        if (statistics == NormStatistics.MeanSquare)
        {
            // mean(x²) = variance + mean², both accurate; RMSNorm does not center
            for (int r = 0; r < rows; r++)
            {
                variance[r] += mean[r] * mean[r];
                mean[r] = 0;
            }
        }
        NormalizationReference.InvStd(variance, eps, invStd);

        // then: x̂ per row, and the affine step on its own view
        NormalizationReference.Normalize<T>(input, 1, rows, rowLength, mean, invStd, default, default, output);
        if (!weight.IsEmpty || !bias.IsEmpty)
        {
            NormalizationReference.ScaleShift(output, affineOuter, affineChannels, affineInner, weight, bias, output);
        }
    }

    /// <summary>
    /// Backward of <see cref="Forward{T}"/>: the affine step on its view (dx̂ = dy · weight[a], gradWeight[a] = Σ dy · x̂,
    /// gradBias[a] = Σ dy), then the closed form per row (docs/derivations/layernorm.md). Empty destinations are skipped.
    /// </summary>
    // input, gradOutput, gradInput: [rows, rowLength] = [affineOuter, affineChannels, affineInner];
    // weight, gradWeight, gradBias: [affineChannels] or empty; mean, invStd: [rows] from the forward
    public static void Backward<T>(
        ReadOnlySpan<T> input, ReadOnlySpan<T> gradOutput, int rows, int rowLength, int affineOuter, int affineChannels, int affineInner,
        ReadOnlySpan<T> weight, ReadOnlySpan<double> mean, ReadOnlySpan<double> invStd, NormStatistics statistics,
        Span<T> gradInput, Span<T> gradWeight, Span<T> gradBias)
        where T : IFloatingPointIeee754<T>
    {
        CheckStatistics(statistics);
        NormChecks.CheckView(input.Length, affineOuter, affineChannels, affineInner, nameof(input));

        // first: the affine step; x̂ is recomputed only if gradWeight needs it, dx̂ only if gradInput does
        ReadOnlySpan<T> gradNormalized = gradOutput;
        T[]? scaled = !weight.IsEmpty && !gradInput.IsEmpty ? new T[gradOutput.Length] : null;
        if (scaled is not null || !gradWeight.IsEmpty || !gradBias.IsEmpty)
        {
            T[]? normalized = null;
            if (!gradWeight.IsEmpty)
            {
                normalized = new T[input.Length];
                NormalizationReference.Normalize<T>(input, 1, rows, rowLength, mean, invStd, default, default, normalized);
            }
            NormalizationReference.ScaleShiftBackward(
                gradOutput, normalized, affineOuter, affineChannels, affineInner, weight, scaled, gradWeight, gradBias);
            if (scaled is not null)
            {
                gradNormalized = scaled;
            }
        }

        // then: the normalization, closed form per row
        if (!gradInput.IsEmpty)
        {
            NormalizationReference.NormalizeBackward(
                input, gradNormalized, 1, rows, rowLength, mean, invStd, default, statistics, gradInput, default, default);
        }
    }

    private static void CheckStatistics(NormStatistics statistics)
    {
        if (statistics == NormStatistics.Constant)
        {
            throw new ArgumentException("Row normalization computes its statistics: use MeanAndVariance or MeanSquare.", nameof(statistics));
        }
    }
}
