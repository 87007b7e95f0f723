using System.Runtime.CompilerServices;
namespace NormSharp.Kernels;

/// <summary>
/// Adaptive average pooling over a run of planes (PyTorch's <c>adaptive_avg_pool2d</c>): output cell (oy, ox)
/// averages input rows [⌊oy·H/outH⌋, ⌈(oy+1)·H/outH⌉) and columns [⌊ox·W/outW⌋, ⌈(ox+1)·W/outW⌉), so windows
/// may overlap or differ in size when H is not a multiple of outH.
/// </summary>
/// <remarks>
/// Shapes (row-major):
/// <code>
/// input    [planes, height, width]
/// output   [planes, outHeight, outWidth]
/// </code>
/// </remarks>
internal static class AdaptivePooling
{
    /// <summary>First input index of output cell <paramref name="index"/>: ⌊index · size / outSize⌋.</summary>
    public static int Start(int index, int size, int outSize) => (int)((long)index * size / outSize);

    /// <summary>One past the last input index of output cell <paramref name="index"/>: ⌈(index + 1) · size / outSize⌉.</summary>
    public static int End(int index, int size, int outSize) => (int)(((long)(index + 1) * size + outSize - 1) / outSize);

    /// <summary>
    /// Global average pooling: output[p] = the mean of plane p of <paramref name="input"/> [planes, plane], a row
    /// reduction (<see cref="Reduction.Sum"/>: summed in double in vector lanes, threaded itself).
    /// </summary>
    public static void GlobalAvgForward(ReadOnlySpan<float> input, int planes, int plane, Span<float> output) =>
        Reduction.Sum(input, [], [planes, plane], [false, true], 1.0 / plane, output);

    /// <summary>gradInput [planes, plane] (overwritten) = gradOutput[p] / plane over every element of plane p.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GlobalAvgBackward(ReadOnlySpan<float> gradOutput, int planes, int plane, Span<float> gradInput)
    {
        for (int p = 0; p < planes; p++)
        {
            gradInput.Slice(p * plane, plane).Fill(gradOutput[p] / plane);
        }
    }

    /// <summary>output = the mean of each window, summed in double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AvgForward(ReadOnlySpan<float> input, int planes, int height, int width, int outHeight, int outWidth, Span<float> output)
    {
        for (int p = 0; p < planes; p++)
        {
            var plane = input.Slice(p * height * width, height * width);
            for (int oy = 0; oy < outHeight; oy++)
            {
                int y0 = Start(oy, height, outHeight), y1 = End(oy, height, outHeight);
                for (int ox = 0; ox < outWidth; ox++)
                {
                    int x0 = Start(ox, width, outWidth), x1 = End(ox, width, outWidth);
                    double sum = 0;
                    for (int y = y0; y < y1; y++)
                    {
                        foreach (float v in plane.Slice(y * width + x0, x1 - x0))
                        {
                            sum += v;
                        }
                    }
                    output[(p * outHeight + oy) * outWidth + ox] = (float)(sum / ((y1 - y0) * (x1 - x0)));
                }
            }
        }
    }

    /// <summary>gradInput += gradOutput / window area over each window (gradInput cleared by the caller).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AvgBackward(ReadOnlySpan<float> gradOutput, int planes, int height, int width, int outHeight, int outWidth, Span<float> gradInput)
    {
        for (int p = 0; p < planes; p++)
        {
            var plane = gradInput.Slice(p * height * width, height * width);
            for (int oy = 0; oy < outHeight; oy++)
            {
                int y0 = Start(oy, height, outHeight), y1 = End(oy, height, outHeight);
                for (int ox = 0; ox < outWidth; ox++)
                {
                    int x0 = Start(ox, width, outWidth), x1 = End(ox, width, outWidth);
                    float share = gradOutput[(p * outHeight + oy) * outWidth + ox] / ((y1 - y0) * (x1 - x0));
                    for (int y = y0; y < y1; y++)
                    {
                        foreach (ref float g in plane.Slice(y * width + x0, x1 - x0))
                        {
                            g += share;
                        }
                    }
                }
            }
        }
    }
}
