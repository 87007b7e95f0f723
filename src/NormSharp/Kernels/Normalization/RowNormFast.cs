using System.Runtime.Intrinsics;

namespace NormSharp.Kernels;

/// <summary>
/// Row normalization, fast kernels: statistics per row of a [rows, rowLength] view, affine parameters on a second view
/// [outer, affineChannels, affineInner] of the same data, as <see cref="RowNormReference"/> takes them: per element of
/// the row (LayerNorm and RMSNorm: affineChannels = rowLength, affineInner = 1) or per channel over runs of affineInner
/// elements (GroupNorm and InstanceNorm: affineInner = ∏ spatial). Same results as the reference path of
/// <c>NormalizationReference</c> (Moments, Normalize, ScaleShift and their backwards), against which it is tested;
/// derivation in docs/derivations/layernorm.md.
/// </summary>
/// <remarks>
/// Parallel over blocks of rows; one row (a few KiB) stays in L1 between its two passes, so each direction reads the
/// input from memory once. Row statistics use the exact chunked two-pass scheme of <see cref="MomentKernels{TVector, TOps}"/>;
/// the difference between the float mean m and the exact mean, delta = m − mean, is carried into the affine step,
/// so that rows with a large common offset keep float accuracy.
/// Forward: y = ((x − m) + delta) · invStd · weight + bias. Backward, with ĝ = dy · weight and
/// x̂ = ((x − m) + delta) · invStd: dx = invStd · (ĝ − Σ ĝ / n − x̂ · Σ ĝ x̂ / n) (the Σ ĝ term is absent for RMSNorm),
/// gradWeight = Σ_rows dy · x̂, gradBias = Σ_rows dy.
/// </remarks>
internal static unsafe class RowNormFast
{
    /// <summary>
    /// Forward: per-row mean (0 with <paramref name="meanSquare"/>) and variance (mean square with
    /// <paramref name="meanSquare"/>), invStd = 1/√(variance + eps), and the normalized, affine output.
    /// </summary>
    // input, output: [rows, rowLength] = [outer, affineChannels, affineInner]; weight, bias: [affineChannels] or empty;
    // mean, variance, invStd: [rows]
    public static void Forward(
        ReadOnlySpan<float> input, int rows, int rowLength, int affineChannels, int affineInner, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, double eps, bool meanSquare, Span<double> mean, Span<double> variance, Span<double> invStd,
        Span<float> output, SimdWidth width = SimdWidth.Auto)
    {
        NormChecks.CheckView(input.Length, rows, rowLength, 1, nameof(input));
        NormChecks.CheckView(output.Length, rows, rowLength, 1, nameof(output));
        CheckAffineView(input.Length, rowLength, affineChannels, affineInner);
        NormChecks.CheckLength(mean.Length, rows, nameof(mean));
        NormChecks.CheckLength(variance.Length, rows, nameof(variance));
        NormChecks.CheckLength(invStd.Length, rows, nameof(invStd));
        NormChecks.CheckOptional(weight.Length, affineChannels, nameof(weight));
        NormChecks.CheckOptional(bias.Length, affineChannels, nameof(bias));
        fixed (float* x = input, y = output, w = weight, b = bias)
        fixed (double* m = mean, v = variance, s = invStd)
        {
            var plan = new RowNormPlan(x, rows, rowLength, affineChannels, affineInner, w, b, meanSquare, Simd.Resolve(width))
            {
                Output = y,
                Mean = m,
                Variance = v,
                InvStd = s,
                Eps = eps,
            };
            Run(plan, backward: false);
        }
    }

    /// <summary>Backward in closed form for the statistics <see cref="Forward"/> computed; empty destinations are skipped.</summary>
    // input, gradOutput, gradInput: [rows, rowLength] = [outer, affineChannels, affineInner]; weight: [affineChannels] or
    // empty; mean, invStd: [rows]; gradInput: may be empty; gradWeight, gradBias: [affineChannels] or empty
    public static void Backward(
        ReadOnlySpan<float> input, ReadOnlySpan<float> gradOutput, int rows, int rowLength, int affineChannels, int affineInner,
        ReadOnlySpan<float> weight, ReadOnlySpan<double> mean, ReadOnlySpan<double> invStd, bool meanSquare,
        Span<float> gradInput, Span<float> gradWeight, Span<float> gradBias, SimdWidth width = SimdWidth.Auto)
    {
        NormChecks.CheckView(input.Length, rows, rowLength, 1, nameof(input));
        NormChecks.CheckView(gradOutput.Length, rows, rowLength, 1, nameof(gradOutput));
        CheckAffineView(input.Length, rowLength, affineChannels, affineInner);
        NormChecks.CheckLength(mean.Length, rows, nameof(mean));
        NormChecks.CheckLength(invStd.Length, rows, nameof(invStd));
        NormChecks.CheckOptional(weight.Length, affineChannels, nameof(weight));
        NormChecks.CheckGradients(rows, rowLength, 1, gradInput.Length, 0, 0);
        NormChecks.CheckOptional(gradWeight.Length, affineChannels, nameof(gradWeight));
        NormChecks.CheckOptional(gradBias.Length, affineChannels, nameof(gradBias));
        double[]? weightSums = gradWeight.IsEmpty ? null : new double[affineChannels];
        double[]? biasSums = gradBias.IsEmpty ? null : new double[affineChannels];
        fixed (float* x = input, dy = gradOutput, dx = gradInput, w = weight)
        fixed (double* m = mean, s = invStd)
        {
            var plan = new RowNormPlan(x, rows, rowLength, affineChannels, affineInner, w, null, meanSquare, Simd.Resolve(width))
            {
                GradOutput = dy,
                GradInput = gradInput.IsEmpty ? null : dx,
                Mean = m,
                InvStd = s,
                WeightSums = weightSums,
                BiasSums = biasSums,
            };
            Run(plan, backward: true);
        }
        for (int j = 0; j < affineChannels; j++)
        {
            if (weightSums is not null)
            {
                gradWeight[j] = (float)weightSums[j];
            }
            if (biasSums is not null)
            {
                gradBias[j] = (float)biasSums[j];
            }
        }
    }

    // The affine view [outer, affineChannels, affineInner] covers the data, and a run of affineInner elements (one
    // channel's) never straddles two rows.
    private static void CheckAffineView(int length, int rowLength, int affineChannels, int affineInner)
    {
        if (length == 0)
        {
            return;   // nothing to normalize: a view of zero rows, or rows or runs of zero elements
        }
        if (affineChannels <= 0 || affineInner <= 0 || length % ((long)affineChannels * affineInner) != 0 || rowLength % affineInner != 0)
        {
            throw new ArgumentException(
                $"The affine view [outer, channels {affineChannels}, inner {affineInner}] must tile {length} elements in rows of {rowLength}.");
        }
    }

    // Rows in up to four ranges per thread, each running the loops compiled for the plan's vector width.
    private static void Run(RowNormPlan plan, bool backward)
    {
        int parts = plan.Workers == 1 ? 1 : Math.Min(plan.Rows, 4 * plan.Workers);
        Action<int, int, int> body = plan.Width switch
        {
            SimdWidth.Vector512 => backward ? RowNormKernels<Vector512<float>, Vector512Ops>.BackwardPart(plan) : RowNormKernels<Vector512<float>, Vector512Ops>.ForwardPart(plan),
            SimdWidth.Vector256 => backward ? RowNormKernels<Vector256<float>, Vector256Ops>.BackwardPart(plan) : RowNormKernels<Vector256<float>, Vector256Ops>.ForwardPart(plan),
            _ => backward ? RowNormKernels<float, ScalarOps>.BackwardPart(plan) : RowNormKernels<float, ScalarOps>.ForwardPart(plan),
        };
        Parallelism.ForRanges(plan.Rows, parts, body);
    }
}
