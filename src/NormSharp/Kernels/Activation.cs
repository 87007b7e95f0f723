using System.Runtime.Intrinsics;

namespace NormSharp.Kernels;

/// <summary>
/// The ReLU gradient as one vector pass, threaded: gradInput = output &gt; 0 ? gradOutput : 0 (PyTorch's
/// threshold_backward on the result; a NaN output gives 0). <see cref="SimdWidth.Scalar"/> is the readable reference.
/// </summary>
internal static unsafe class Activation
{
    // output, gradOutput, gradInput: [length]
    public static void ReluBackward(ReadOnlySpan<float> output, ReadOnlySpan<float> gradOutput, Span<float> gradInput, SimdWidth width = SimdWidth.Auto)
    {
        CheckLengths(output.Length, gradOutput.Length, gradInput.Length);
        fixed (float* dy = gradOutput)
        {
            Run(output, dy, 0, gradInput, width);
        }
    }

    /// <summary>The same for a gradient whose every element is <paramref name="gradOutput"/> (of a full sum).</summary>
    // output, gradInput: [length]
    public static void ReluBackward(ReadOnlySpan<float> output, float gradOutput, Span<float> gradInput, SimdWidth width = SimdWidth.Auto)
    {
        CheckLengths(output.Length, output.Length, gradInput.Length);
        Run(output, null, gradOutput, gradInput, width);
    }

    private static void CheckLengths(int output, int gradOutput, int gradInput)
    {
        if (output != gradOutput || output != gradInput)
        {
            throw new ArgumentException(
                $"ReluBackward needs output, gradOutput and gradInput of one length; got {output}, {gradOutput} and {gradInput}.");
        }
    }

    // gradOutput null: every element of the gradient is `value`.
    private static void Run(ReadOnlySpan<float> output, float* gradOutput, float value, Span<float> gradInput, SimdWidth width)
    {
        var resolved = Simd.Resolve(width);
        fixed (float* y = output, dx = gradInput)
        {
            var (py, pdy, pdx) = ((nint)y, (nint)gradOutput, (nint)dx);
            Elementwise.ForChunks(output.Length, (start, count) =>
            {
                float* ys = (float*)py + start, dys = pdy == 0 ? null : (float*)pdy + start, dxs = (float*)pdx + start;
                switch (resolved)
                {
                    case SimdWidth.Vector512: ReluBackward<Vector512<float>, Vector512Ops>(ys, dys, value, dxs, count); break;
                    case SimdWidth.Vector256: ReluBackward<Vector256<float>, Vector256Ops>(ys, dys, value, dxs, count); break;
                    default: ReluBackward<float, ScalarOps>(ys, dys, value, dxs, count); break;
                }
            });
        }
    }

    private static void ReluBackward<TVector, TOps>(float* output, float* gradOutput, float value, float* gradInput, int length)
        where TVector : struct
        where TOps : ISimdOps<TVector>
    {
        int i = 0;
        if (gradOutput is null)
        {
            var uniform = TOps.Broadcast(value);
            for (; i <= length - TOps.Count; i += TOps.Count)
            {
                TOps.Store(gradInput + i, TOps.WherePositive(TOps.Load(output + i), uniform));
            }
            for (; i < length; i++)
            {
                gradInput[i] = ScalarOps.WherePositive(output[i], value);
            }
            return;
        }
        for (; i <= length - TOps.Count; i += TOps.Count)
        {
            TOps.Store(gradInput + i, TOps.WherePositive(TOps.Load(output + i), TOps.Load(gradOutput + i)));
        }
        for (; i < length; i++)
        {
            gradInput[i] = ScalarOps.WherePositive(output[i], gradOutput[i]);
        }
    }
}
