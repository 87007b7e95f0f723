namespace NormSharp.Kernels;

/// <summary>
/// Geometry of a 2-D sliding window over one [height, width] plane, shared by convolution and pooling.
/// Output position (oy, ox) and kernel tap (i, j) read input row oy·StrideHeight − PaddingHeight + i·DilationHeight
/// and column ox·StrideWidth − PaddingWidth + j·DilationWidth; positions outside the plane are padding.
/// </summary>
internal readonly record struct Window2d(
    int Height, int Width,
    int KernelHeight, int KernelWidth,
    int StrideHeight, int StrideWidth,
    int PaddingHeight, int PaddingWidth,
    int DilationHeight = 1, int DilationWidth = 1)
{
    /// <summary>⌊(H + 2·pad − dilation·(k − 1) − 1) / stride⌋ + 1, or a value &lt;= 0 when the window does not fit.</summary>
    public int OutHeight => OutSize(Height, KernelHeight, StrideHeight, PaddingHeight, DilationHeight);

    /// <summary>As <see cref="OutHeight"/>, along the width.</summary>
    public int OutWidth => OutSize(Width, KernelWidth, StrideWidth, PaddingWidth, DilationWidth);

    public int Plane => Height * Width;

    public int OutPlane => OutHeight * OutWidth;

    public int KernelArea => KernelHeight * KernelWidth;

    private static int OutSize(int size, int kernel, int stride, int padding, int dilation)
    {
        long span = (long)size + 2L * padding - (long)dilation * (kernel - 1) - 1;
        // Floor division: a negative span means the window is larger than the padded input.
        return span < 0 ? 0 : (int)(span / stride) + 1;
    }

    /// <summary>
    /// The output columns [start, end) whose tap at input offset <paramref name="offset"/> (= j·dilation − padding)
    /// lands inside [0, <paramref name="size"/>): start = ⌈−offset / stride⌉, end = ⌊(size − 1 − offset) / stride⌋ + 1,
    /// both clamped to [0, <paramref name="outSize"/>].
    /// </summary>
    public static (int Start, int End) ValidRange(int offset, int stride, int size, int outSize)
    {
        int start = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
        int last = size - 1 - offset;
        int end = last < 0 ? 0 : last / stride + 1;
        end = Math.Min(end, outSize);
        start = Math.Min(start, end);
        return (start, end);
    }
}
