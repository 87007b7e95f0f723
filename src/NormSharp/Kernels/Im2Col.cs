using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormSharp.Kernels;

/// <summary>
/// Unfolds one image into the column matrix of a convolution (im2col), so that a convolution becomes one matrix
/// product per sample (the weight gradient of a first layer on one to three channels):
/// output[outC, L] = weight[outC, C·kH·kW] · columns[C·kH·kW, L] with L = outH·outW.
/// </summary>
/// <remarks>
/// Shapes (one sample, row-major):
/// <code>
/// input    [channels, height, width]
/// columns  [channels * kernelHeight * kernelWidth, outHeight * outWidth]
/// columns[(c·kH + i)·kW + j, oy·outW + ox] = input[c, oy·sH − pH + i·dH, ox·sW − pW + j·dW]   (0 outside the image)
/// </code>
/// Rows are grouped by channel, so the rows of a channel group are one contiguous block (grouped convolution).
/// </remarks>
internal static unsafe class Im2Col
{
    /// <summary>Output rows up to this width are copied element by element: a span call per short row costs more than the copy.</summary>
    private const int NarrowRow = 32;

    /// <summary>columns = im2col(input); every element of <paramref name="columns"/> is written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Unfold(ReadOnlySpan<float> input, int channels, in Window2d window, Span<float> columns)
    {
        int height = window.Height, width = window.Width, plane = window.Plane;
        int outHeight = window.OutHeight, outWidth = window.OutWidth, outPlane = outHeight * outWidth;
        int strideHeight = window.StrideHeight, strideWidth = window.StrideWidth;
        CheckLengths(input.Length, channels * plane, columns.Length, channels * window.KernelArea * outPlane);
        bool masked = MaskedRow.Fits(strideWidth, outWidth);
        fixed (float* inputBase = input, columnsBase = columns)
        {
            int row = 0;
            for (int c = 0; c < channels; c++)
            {
                float* source = inputBase + (long)c * plane;
                for (int i = 0; i < window.KernelHeight; i++)
                {
                    int rowOffset = i * window.DilationHeight - window.PaddingHeight;
                    for (int j = 0; j < window.KernelWidth; j++, row++)
                    {
                        int columnOffset = j * window.DilationWidth - window.PaddingWidth;
                        var (start, end) = Window2d.ValidRange(columnOffset, strideWidth, width, outWidth);
                        float* destination = columnsBase + (long)row * outPlane;
                        var masks = masked ? new MaskedRow(start, end, outWidth) : default;
                        for (int oy = 0; oy < outHeight; oy++, destination += outWidth)
                        {
                            int iy = oy * strideHeight + rowOffset;
                            if ((uint)iy >= (uint)height)
                            {
                                new Span<float>(destination, outWidth).Clear();
                                continue;
                            }
                            float* sourceRow = source + (long)iy * width + columnOffset;
                            if (masked)
                            {
                                masks.Copy(sourceRow, destination);
                                continue;
                            }
                            if (strideWidth == 1 && outWidth > NarrowRow)
                            {
                                new Span<float>(destination, start).Clear();
                                new ReadOnlySpan<float>(sourceRow + start, end - start).CopyTo(new Span<float>(destination + start, end - start));
                                new Span<float>(destination + end, outWidth - end).Clear();
                                continue;
                            }
                            for (int ox = 0; ox < start; ox++)
                            {
                                destination[ox] = 0;
                            }
                            for (int ox = start; ox < end; ox++)
                            {
                                destination[ox] = sourceRow[ox * strideWidth];
                            }
                            for (int ox = end; ox < outWidth; ox++)
                            {
                                destination[ox] = 0;
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// Stride-1 rows of up to 32 outputs on AVX-512: the in-image columns [start, end) of a row move with one masked load
    /// and store per 16 lanes, instead of a loop of a dozen scalar copies. Masked-off lanes are never read or written, so
    /// the addresses left or right of the image row are never touched.
    /// </summary>
    private readonly struct MaskedRow
    {
        private readonly Vector512<float> valid0, valid1, row0, row1;
        private readonly bool second;

        public MaskedRow(int start, int end, int outWidth)
        {
            var lanes = Vector512<int>.Indices;
            var upper = lanes + Vector512.Create(16);
            valid0 = (Vector512.GreaterThanOrEqual(lanes, Vector512.Create(start)) & Vector512.LessThan(lanes, Vector512.Create(end))).AsSingle();
            valid1 = (Vector512.GreaterThanOrEqual(upper, Vector512.Create(start)) & Vector512.LessThan(upper, Vector512.Create(end))).AsSingle();
            row0 = Vector512.LessThan(lanes, Vector512.Create(outWidth)).AsSingle();
            row1 = Vector512.LessThan(upper, Vector512.Create(outWidth)).AsSingle();
            second = outWidth > 16;
        }

        public static bool Fits(int strideWidth, int outWidth) => Avx512F.IsSupported && strideWidth == 1 && outWidth <= 32;

        // destination[ox] = source[ox] for ox in [start, end), 0 for the rest of the row's outWidth elements.
        public void Copy(float* source, float* destination)
        {
            Avx512F.MaskStore(destination, row0, Avx512F.MaskLoad(source, valid0, Vector512<float>.Zero));
            if (second)
            {
                Avx512F.MaskStore(destination + 16, row1, Avx512F.MaskLoad(source + 16, valid1, Vector512<float>.Zero));
            }
        }
    }

    private static void CheckLengths(int imageLength, int imageNeeded, int columnsLength, int columnsNeeded)
    {
        if (imageLength < imageNeeded || columnsLength < columnsNeeded)
        {
            throw new ArgumentException(
                $"im2col needs an image of {imageNeeded} floats and columns of {columnsNeeded}; got {imageLength} and {columnsLength}.");
        }
    }
}
