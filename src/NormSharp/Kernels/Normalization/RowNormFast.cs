using System.Runtime.Intrinsics;

namespace NormSharp.Kernels;

/// <summary>
/// Row normalization, fast kernels: LayerNorm and RMSNorm (statistics per row of a [rows, rowLength] view, affine
/// per element of the row), and any row norm without affine parameters. Same results as the reference path of
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
    // input, output: [rows, rowLength]; weight, bias: [rowLength] or empty; mean, variance, invStd: [rows]
    public static void Forward(
        ReadOnlySpan<float> input, int rows, int rowLength, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        double eps, bool meanSquare, Span<double> mean, Span<double> variance, Span<double> invStd, Span<float> output,
        SimdWidth width = SimdWidth.Auto)
    {
        NormChecks.CheckView(input.Length, rows, rowLength, 1, nameof(input));
        NormChecks.CheckView(output.Length, rows, rowLength, 1, nameof(output));
        NormChecks.CheckLength(mean.Length, rows, nameof(mean));
        NormChecks.CheckLength(variance.Length, rows, nameof(variance));
        NormChecks.CheckLength(invStd.Length, rows, nameof(invStd));
        NormChecks.CheckOptional(weight.Length, rowLength, nameof(weight));
        NormChecks.CheckOptional(bias.Length, rowLength, nameof(bias));
        fixed (float* x = input, y = output, w = weight, b = bias)
        fixed (double* m = mean, v = variance, s = invStd)
        {
            var plan = new RowNormPlan(x, rows, rowLength, w, b, meanSquare, Simd.Resolve(width))
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
    // input, gradOutput, gradInput: [rows, rowLength]; weight: [rowLength] or empty; mean, invStd: [rows];
    // gradInput: may be empty; gradWeight, gradBias: [rowLength] or empty
    public static void Backward(
        ReadOnlySpan<float> input, ReadOnlySpan<float> gradOutput, int rows, int rowLength, ReadOnlySpan<float> weight,
        ReadOnlySpan<double> mean, ReadOnlySpan<double> invStd, bool meanSquare,
        Span<float> gradInput, Span<float> gradWeight, Span<float> gradBias, SimdWidth width = SimdWidth.Auto)
    {
        NormChecks.CheckView(input.Length, rows, rowLength, 1, nameof(input));
        NormChecks.CheckView(gradOutput.Length, rows, rowLength, 1, nameof(gradOutput));
        NormChecks.CheckLength(mean.Length, rows, nameof(mean));
        NormChecks.CheckLength(invStd.Length, rows, nameof(invStd));
        NormChecks.CheckOptional(weight.Length, rowLength, nameof(weight));
        NormChecks.CheckGradients(rows, rowLength, 1, gradInput.Length, gradWeight.Length, gradBias.Length);
        double[]? weightSums = gradWeight.IsEmpty ? null : new double[rowLength];
        double[]? biasSums = gradBias.IsEmpty ? null : new double[rowLength];
        fixed (float* x = input, dy = gradOutput, dx = gradInput, w = weight)
        fixed (double* m = mean, s = invStd)
        {
            var plan = new RowNormPlan(x, rows, rowLength, w, null, meanSquare, Simd.Resolve(width))
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
        for (int j = 0; j < rowLength; j++)
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
