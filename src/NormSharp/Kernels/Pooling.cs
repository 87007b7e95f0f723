using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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
internal static unsafe class Pooling
{
    /// <summary>
    /// output = max over each window; indices = where it was. Ties go to the first element in row-major window
    /// order and NaN propagates (the last NaN wins), exactly as PyTorch's <c>(val &gt; max) || isnan(val)</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MaxForward(ReadOnlySpan<float> input, int planes, in Window2d window, Span<float> output, Span<int> indices)
    {
        int width = window.Width, plane = window.Plane, outHeight = window.OutHeight, outWidth = window.OutWidth, outPlane = outHeight * outWidth;
        if (IsHalving(window) && input.Length >= planes * plane && output.Length >= planes * outPlane && indices.Length >= planes * outPlane)
        {
            fixed (float* source = input, destination = output)
            fixed (int* chosen = indices)
            {
                for (int p = 0; p < planes; p++)
                {
                    MaxForward2x2(source + (long)p * plane, width, outHeight, outWidth, destination + (long)p * outPlane, chosen + (long)p * outPlane);
                }
            }
            return;
        }
        if (IsThreeByThreeStrideTwo(window) && Sse.IsSupported && input.Length >= planes * plane && output.Length >= planes * outPlane && indices.Length >= planes * outPlane)
        {
            fixed (float* source = input, destination = output)
            fixed (int* chosen = indices)
            {
                for (int p = 0; p < planes; p++)
                {
                    MaxForward3x3Stride2(source + (long)p * plane, window, destination + (long)p * outPlane, chosen + (long)p * outPlane);
                }
            }
            return;
        }
        MaxForwardGeneral(input, planes, window, output, indices);
    }

    /// <summary>3×3 windows with stride 2, padding 0 or 1, no dilation: the ResNet stem's downsampling.</summary>
    internal static bool IsThreeByThreeStrideTwo(in Window2d window) =>
        window is { KernelHeight: 3, KernelWidth: 3, StrideHeight: 2, StrideWidth: 2, PaddingHeight: 0 or 1, PaddingWidth: 0 or 1, DilationHeight: 1, DilationWidth: 1 };

    // Each window as a tree, as in MaxForward2x2: the three columns of each of its rows (left to right), then the row
    // winners top to bottom, which gives MaxForwardGeneral's result because "later replaces earlier when greater or
    // NaN" picks the same element whichever way an ordered run is split. Four windows at a time with SSE where their
    // ten input columns lie inside the row; the windows at the edges one by one, as MaxForwardGeneral does them.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MaxForward3x3Stride2(float* source, in Window2d window, float* output, int* indices)
    {
        int width = window.Width, outHeight = window.OutHeight, outWidth = window.OutWidth, padLeft = window.PaddingWidth;
        var plane = new ReadOnlySpan<float>(source, window.Plane);
        var lanes = Vector128.Create(0, 2, 4, 6);
        var one = Vector128.Create(1);
        var two = Vector128.Create(2);
        for (int oy = 0; oy < outHeight; oy++)
        {
            int top = 2 * oy - window.PaddingHeight;
            int rowStart = Math.Max(top, 0), rowEnd = Math.Min(top + 3, window.Height);
            float* outputRow = output + oy * outWidth;
            int* indexRow = indices + oy * outWidth;
            int ox = 0;
            for (; ox < padLeft; ox++)
            {
                (outputRow[ox], indexRow[ox]) = MaxWindow(plane, window, oy, ox);
            }
            for (; ox + 4 <= outWidth && 2 * ox - padLeft + 10 <= width; ox += 4)
            {
                int column = 2 * ox - padLeft;
                Vector128<float> best = default;
                Vector128<int> bestIndex = default;
                for (int iy = rowStart; iy < rowEnd; iy++)
                {
                    float* row = source + iy * width + column;
                    Vector128<float> low = Sse.LoadVector128(row), high = Sse.LoadVector128(row + 4);
                    Vector128<float> shiftedLow = Sse.LoadVector128(row + 2), shiftedHigh = Sse.LoadVector128(row + 6);
                    var left = Sse.Shuffle(low, high, 0b10_00_10_00);   // columns column + 2k
                    var middle = Sse.Shuffle(low, high, 0b11_01_11_01);   // column + 2k + 1
                    var right = Sse.Shuffle(shiftedLow, shiftedHigh, 0b10_00_10_00);   // column + 2k + 2
                    var takeMiddle = Replaces(middle, left);
                    var leftPair = Vector128.ConditionalSelect(takeMiddle, middle, left);
                    var takeRight = Replaces(right, leftPair);
                    var rowMax = Vector128.ConditionalSelect(takeRight, right, leftPair);
                    var offset = Vector128.ConditionalSelect(takeRight.AsInt32(), two, takeMiddle.AsInt32() & one);
                    var rowIndex = Vector128.Create(iy * width + column) + lanes + offset;
                    if (iy == rowStart)
                    {
                        (best, bestIndex) = (rowMax, rowIndex);
                        continue;
                    }
                    var takeRow = Replaces(rowMax, best);
                    best = Vector128.ConditionalSelect(takeRow, rowMax, best);
                    bestIndex = Vector128.ConditionalSelect(takeRow.AsInt32(), rowIndex, bestIndex);
                }
                best.Store(outputRow + ox);
                bestIndex.Store(indexRow + ox);
            }
            for (; ox < outWidth; ox++)
            {
                (outputRow[ox], indexRow[ox]) = MaxWindow(plane, window, oy, ox);
            }
        }
    }

    /// <summary>2×2 windows with stride 2, no padding or dilation: the usual downsampling, every window inside the image.</summary>
    internal static bool IsHalving(in Window2d window) =>
        window is { KernelHeight: 2, KernelWidth: 2, StrideHeight: 2, StrideWidth: 2, PaddingHeight: 0, PaddingWidth: 0, DilationHeight: 1, DilationWidth: 1 };

    // MaxForwardGeneral's rule for a 2×2 window (a b / c d) as a tree: the pairs (a, b) and (c, d), then the two
    // winners. The rule "later replaces earlier when greater or NaN" gives the same result either way: the last NaN,
    // else the first maximum in row-major order. Four windows at a time with SSE compares and selects, no branches:
    // which of four activations is largest is a coin toss for the branch predictor.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MaxForward2x2(float* source, int width, int outHeight, int outWidth, float* output, int* indices)
    {
        int vectorEnd = Sse.IsSupported ? outWidth - outWidth % 4 : 0;
        var lanes = Vector128.Create(0, 2, 4, 6);
        var one = Vector128.Create(1);
        var down = Vector128.Create(width);
        for (int oy = 0; oy < outHeight; oy++)
        {
            int rowIndex = 2 * oy * width;
            float* top = source + rowIndex, bottom = top + width;
            float* outputRow = output + oy * outWidth;
            int* indexRow = indices + oy * outWidth;
            for (int ox = 0; ox < vectorEnd; ox += 4)
            {
                // evens and odds of eight consecutive floats: a, b (top row) and c, d (bottom row) of four windows
                Vector128<float> top0 = Sse.LoadVector128(top + 2 * ox), top1 = Sse.LoadVector128(top + 2 * ox + 4);
                Vector128<float> bottom0 = Sse.LoadVector128(bottom + 2 * ox), bottom1 = Sse.LoadVector128(bottom + 2 * ox + 4);
                var a = Sse.Shuffle(top0, top1, 0b10_00_10_00);
                var b = Sse.Shuffle(top0, top1, 0b11_01_11_01);
                var c = Sse.Shuffle(bottom0, bottom1, 0b10_00_10_00);
                var d = Sse.Shuffle(bottom0, bottom1, 0b11_01_11_01);
                var takeB = Replaces(b, a);
                var takeD = Replaces(d, c);
                var upper = Vector128.ConditionalSelect(takeB, b, a);
                var lower = Vector128.ConditionalSelect(takeD, d, c);
                var takeLower = Replaces(lower, upper);
                Vector128.ConditionalSelect(takeLower, lower, upper).Store(outputRow + ox);
                var upperOffset = takeB.AsInt32() & one;
                var lowerOffset = down + (takeD.AsInt32() & one);
                var offset = Vector128.ConditionalSelect(takeLower.AsInt32(), lowerOffset, upperOffset);
                (Vector128.Create(rowIndex + 2 * ox) + lanes + offset).Store(indexRow + ox);
            }
            for (int ox = vectorEnd; ox < outWidth; ox++)
            {
                int index = rowIndex + 2 * ox;
                float max = top[2 * ox];
                int best = index;
                (max, best) = Take(top[2 * ox + 1], index + 1, max, best);
                (max, best) = Take(bottom[2 * ox], index + width, max, best);
                (max, best) = Take(bottom[2 * ox + 1], index + width + 1, max, best);
                outputRow[ox] = max;
                indexRow[ox] = best;
            }
        }
    }

    // All ones in the lanes where `later` replaces `earlier` under PyTorch's (later > earlier) || isnan(later).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Replaces(Vector128<float> later, Vector128<float> earlier) =>
        Vector128.GreaterThan(later, earlier) | ~Vector128.Equals(later, later);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (float Max, int Best) Take(float value, int index, float max, int best) =>
        value > max || float.IsNaN(value) ? (value, index) : (max, best);

    /// <summary>Any window: the readable definition, and the path every shape without a fast path takes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void MaxForwardGeneral(ReadOnlySpan<float> input, int planes, in Window2d window, Span<float> output, Span<int> indices)
    {
        int plane = window.Plane, outHeight = window.OutHeight, outWidth = window.OutWidth, outPlane = outHeight * outWidth;
        for (int p = 0; p < planes; p++)
        {
            var source = input.Slice(p * plane, plane);
            for (int oy = 0; oy < outHeight; oy++)
            {
                for (int ox = 0; ox < outWidth; ox++)
                {
                    int o = p * outPlane + oy * outWidth + ox;
                    (output[o], indices[o]) = MaxWindow(source, window, oy, ox);
                }
            }
        }
    }

    // The maximum of window (oy, ox) of one plane and its flat index, scanning in row-major order.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (float Max, int Best) MaxWindow(ReadOnlySpan<float> source, in Window2d window, int oy, int ox)
    {
        int width = window.Width;
        var (rowStart, rowEnd) = Taps(oy, window.StrideHeight, window.PaddingHeight, window.DilationHeight, window.KernelHeight, window.Height);
        var (columnStart, columnEnd) = Taps(ox, window.StrideWidth, window.PaddingWidth, window.DilationWidth, window.KernelWidth, width);
        int best = rowStart * width + columnStart;
        float max = float.NegativeInfinity;
        for (int iy = rowStart; iy < rowEnd; iy += window.DilationHeight)
        {
            for (int ix = columnStart; ix < columnEnd; ix += window.DilationWidth)
            {
                int index = iy * width + ix;
                (max, best) = Take(source[index], index, max, best);
            }
        }
        return (max, best);
    }

    /// <summary>gradInput (overwritten) = scatter-add of each gradOutput to the input element its maximum came from.</summary>
    public static void MaxBackward(ReadOnlySpan<float> gradOutput, ReadOnlySpan<int> indices, int planes, in Window2d window, Span<float> gradInput)
    {
        if (IsHalving(window))
        {
            MaxBackward2x2(gradOutput, indices, planes, window, gradInput);
            return;
        }
        MaxBackwardGeneral(gradOutput, indices, planes, window, gradInput);
    }

    /// <summary>Any window: the readable definition of <see cref="MaxBackward"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void MaxBackwardGeneral(ReadOnlySpan<float> gradOutput, ReadOnlySpan<int> indices, int planes, in Window2d window, Span<float> gradInput)
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

    // 2×2 windows with stride 2 do not overlap: each window's four elements are written once (its gradient where its
    // maximum was, zeros elsewhere) instead of clearing gradInput first and adding, one pass over it instead of two.
    // A last row or column that no window covers (odd sizes) is cleared.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MaxBackward2x2(ReadOnlySpan<float> gradOutput, ReadOnlySpan<int> indices, int planes, in Window2d window, Span<float> gradInput)
    {
        int width = window.Width, height = window.Height, plane = window.Plane, outHeight = window.OutHeight, outWidth = window.OutWidth;
        int outPlane = outHeight * outWidth;
        for (int p = 0; p < planes; p++)
        {
            var destination = gradInput.Slice(p * plane, plane);
            for (int oy = 0; oy < outHeight; oy++)
            {
                var top = destination.Slice(2 * oy * width, width);
                var bottom = destination.Slice((2 * oy + 1) * width, width);
                top[..(2 * outWidth)].Clear();
                bottom[..(2 * outWidth)].Clear();
                for (int ox = 0; ox < outWidth; ox++)
                {
                    int o = p * outPlane + oy * outWidth + ox;
                    destination[indices[o]] = gradOutput[o];
                }
                top[(2 * outWidth)..].Clear();
                bottom[(2 * outWidth)..].Clear();
            }
            destination[(2 * outHeight * width)..].Clear();
        }
    }

    /// <summary>
    /// output = (sum over the window's in-image elements) / divisor, with divisor = the window's area clipped to the
    /// padded image (= kH·kW in floor mode), summed in double as PyTorch's CPU kernel does.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
