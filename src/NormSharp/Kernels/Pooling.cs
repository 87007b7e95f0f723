namespace NormSharp.Kernels;

/// <summary>
/// 2-D max and average pooling over a run of planes, PyTorch's CPU semantics (floor mode).
/// </summary>
/// <remarks>
/// Shapes (row-major):
/// <code>
/// input    [planes, height, width]
/// output   [planes, outHeight, outWidth]
/// indices  [planes, outHeight, outWidth]   flat index iy·width + ix, within its plane, of the chosen maximum
/// </code>
/// Max pooling treats padding as −∞ (it is never chosen); average pooling counts padding as zeros in the
/// divisor (count_include_pad = true).
/// </remarks>
internal static class Pooling
{
    /// <summary>
    /// output = max over each window; indices = where it was. Ties go to the first element in row-major window
    /// order and NaN propagates (the last NaN wins), exactly as PyTorch's <c>(val &gt; max) || isnan(val)</c>.
    /// </summary>
    public static void MaxForward(ReadOnlySpan<float> input, int planes, in Window2d window, Span<float> output, Span<int> indices)
    {
        int width = window.Width, plane = window.Plane, outHeight = window.OutHeight, outWidth = window.OutWidth, outPlane = outHeight * outWidth;
        for (int p = 0; p < planes; p++)
        {
            var source = input.Slice(p * plane, plane);
            for (int oy = 0; oy < outHeight; oy++)
            {
                var (rowStart, rowEnd) = Taps(oy, window.StrideHeight, window.PaddingHeight, window.DilationHeight, window.KernelHeight, window.Height);
                for (int ox = 0; ox < outWidth; ox++)
                {
                    var (columnStart, columnEnd) = Taps(ox, window.StrideWidth, window.PaddingWidth, window.DilationWidth, window.KernelWidth, width);
                    int best = rowStart * width + columnStart;
                    float max = float.NegativeInfinity;
                    for (int iy = rowStart; iy < rowEnd; iy += window.DilationHeight)
                    {
                        for (int ix = columnStart; ix < columnEnd; ix += window.DilationWidth)
                        {
                            int index = iy * width + ix;
                            float value = source[index];
                            if (value > max || float.IsNaN(value))
                            {
                                max = value;
                                best = index;
                            }
                        }
                    }
                    int o = p * outPlane + oy * outWidth + ox;
                    output[o] = max;
                    indices[o] = best;
                }
            }
        }
    }

    /// <summary>gradInput (overwritten) = scatter-add of each gradOutput to the input element its maximum came from.</summary>
    public static void MaxBackward(ReadOnlySpan<float> gradOutput, ReadOnlySpan<int> indices, int planes, in Window2d window, Span<float> gradInput)
    {
        int plane = window.Plane, outPlane = window.OutPlane;
        gradInput[..(planes * plane)].Clear();
        for (int p = 0; p < planes; p++)
        {
            var destination = gradInput.Slice(p * plane, plane);
            for (int o = p * outPlane; o < (p + 1) * outPlane; o++)
            {
                destination[indices[o]] += gradOutput[o];
            }
        }
    }

    /// <summary>
    /// output = (sum over the window's in-image elements) / divisor, with divisor = the window's area clipped to the
    /// padded image (= kH·kW in floor mode), summed in double as PyTorch's CPU kernel does.
    /// </summary>
    public static void AvgForward(ReadOnlySpan<float> input, int planes, in Window2d window, Span<float> output)
    {
        int width = window.Width, plane = window.Plane, outHeight = window.OutHeight, outWidth = window.OutWidth, outPlane = outHeight * outWidth;
        for (int p = 0; p < planes; p++)
        {
            var source = input.Slice(p * plane, plane);
            for (int oy = 0; oy < outHeight; oy++)
            {
                var (rowStart, rowEnd, rowCount) = AvgTaps(oy, window.StrideHeight, window.PaddingHeight, window.KernelHeight, window.Height);
                for (int ox = 0; ox < outWidth; ox++)
                {
                    var (columnStart, columnEnd, columnCount) = AvgTaps(ox, window.StrideWidth, window.PaddingWidth, window.KernelWidth, width);
                    double sum = 0;
                    for (int iy = rowStart; iy < rowEnd; iy++)
                    {
                        var row = source.Slice(iy * width, width);
                        for (int ix = columnStart; ix < columnEnd; ix++)
                        {
                            sum += row[ix];
                        }
                    }
                    output[p * outPlane + oy * outWidth + ox] = (float)(sum / (rowCount * columnCount));
                }
            }
        }
    }

    /// <summary>gradInput (overwritten): each gradOutput / divisor is added to every in-image element of its window.</summary>
    public static void AvgBackward(ReadOnlySpan<float> gradOutput, int planes, in Window2d window, Span<float> gradInput)
    {
        int width = window.Width, plane = window.Plane, outHeight = window.OutHeight, outWidth = window.OutWidth, outPlane = outHeight * outWidth;
        gradInput[..(planes * plane)].Clear();
        for (int p = 0; p < planes; p++)
        {
            var destination = gradInput.Slice(p * plane, plane);
            for (int oy = 0; oy < outHeight; oy++)
            {
                var (rowStart, rowEnd, rowCount) = AvgTaps(oy, window.StrideHeight, window.PaddingHeight, window.KernelHeight, window.Height);
                for (int ox = 0; ox < outWidth; ox++)
                {
                    var (columnStart, columnEnd, columnCount) = AvgTaps(ox, window.StrideWidth, window.PaddingWidth, window.KernelWidth, width);
                    float share = gradOutput[p * outPlane + oy * outWidth + ox] / (rowCount * columnCount);
                    for (int iy = rowStart; iy < rowEnd; iy++)
                    {
                        var row = destination.Slice(iy * width, width);
                        for (int ix = columnStart; ix < columnEnd; ix++)
                        {
                            row[ix] += share;
                        }
                    }
                }
            }
        }
    }

    // In-image taps [start, end) of output position o along one axis for max pooling (stepping by dilation).
    private static (int Start, int End) Taps(int o, int stride, int padding, int dilation, int kernel, int size)
    {
        int start = o * stride - padding;
        int end = Math.Min(start + (kernel - 1) * dilation + 1, size);
        while (start < 0)
        {
            start += dilation;
        }
        return (start, end);
    }

    // In-image taps [start, end) and the divisor's extent along one axis for average pooling (count_include_pad).
    private static (int Start, int End, int Count) AvgTaps(int o, int stride, int padding, int kernel, int size)
    {
        int start = o * stride - padding;
        int end = Math.Min(start + kernel, size + padding);
        int count = end - start;
        return (Math.Max(start, 0), Math.Min(end, size), count);
    }
}
