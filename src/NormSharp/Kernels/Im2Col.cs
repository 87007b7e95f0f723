using System.Numerics.Tensors;

namespace NormSharp.Kernels;

/// <summary>
/// Unfolds one image into the column matrix of a convolution (im2col) and folds it back (col2im, the
/// adjoint), so that a convolution becomes one matrix product per sample:
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
internal static class Im2Col
{
    /// <summary>columns = im2col(input); every element of <paramref name="columns"/> is written.</summary>
    public static void Unfold(ReadOnlySpan<float> input, int channels, in Window2d window, Span<float> columns)
    {
        int height = window.Height, width = window.Width, plane = window.Plane;
        int outHeight = window.OutHeight, outWidth = window.OutWidth, outPlane = outHeight * outWidth;
        int strideHeight = window.StrideHeight, strideWidth = window.StrideWidth;
        int row = 0;
        for (int c = 0; c < channels; c++)
        {
            var source = input.Slice(c * plane, plane);
            for (int i = 0; i < window.KernelHeight; i++)
            {
                int rowOffset = i * window.DilationHeight - window.PaddingHeight;
                for (int j = 0; j < window.KernelWidth; j++, row++)
                {
                    int columnOffset = j * window.DilationWidth - window.PaddingWidth;
                    var (start, end) = Window2d.ValidRange(columnOffset, strideWidth, width, outWidth);
                    var destination = columns.Slice(row * outPlane, outPlane);
                    for (int oy = 0; oy < outHeight; oy++)
                    {
                        var destinationRow = destination.Slice(oy * outWidth, outWidth);
                        int iy = oy * strideHeight + rowOffset;
                        if ((uint)iy >= (uint)height)
                        {
                            destinationRow.Clear();
                            continue;
                        }
                        destinationRow[..start].Clear();
                        destinationRow[end..].Clear();
                        var sourceRow = source.Slice(iy * width, width);
                        if (strideWidth == 1)
                        {
                            sourceRow.Slice(start + columnOffset, end - start).CopyTo(destinationRow[start..end]);
                        }
                        else
                        {
                            for (int ox = start; ox < end; ox++)
                            {
                                destinationRow[ox] = sourceRow[ox * strideWidth + columnOffset];
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// gradInput = col2im(columns): the adjoint of <see cref="Unfold"/>. <paramref name="image"/> [channels, height, width]
    /// is overwritten with the sum of every column entry that <see cref="Unfold"/> would have read from each pixel.
    /// </summary>
    public static void Fold(ReadOnlySpan<float> columns, int channels, in Window2d window, Span<float> image)
    {
        int height = window.Height, width = window.Width, plane = window.Plane;
        int outHeight = window.OutHeight, outWidth = window.OutWidth, outPlane = outHeight * outWidth;
        int strideHeight = window.StrideHeight, strideWidth = window.StrideWidth;
        image[..(channels * plane)].Clear();
        int row = 0;
        for (int c = 0; c < channels; c++)
        {
            var destination = image.Slice(c * plane, plane);
            for (int i = 0; i < window.KernelHeight; i++)
            {
                int rowOffset = i * window.DilationHeight - window.PaddingHeight;
                for (int j = 0; j < window.KernelWidth; j++, row++)
                {
                    int columnOffset = j * window.DilationWidth - window.PaddingWidth;
                    var (start, end) = Window2d.ValidRange(columnOffset, strideWidth, width, outWidth);
                    var source = columns.Slice(row * outPlane, outPlane);
                    for (int oy = 0; oy < outHeight; oy++)
                    {
                        int iy = oy * strideHeight + rowOffset;
                        if ((uint)iy >= (uint)height)
                        {
                            continue;
                        }
                        var sourceRow = source.Slice(oy * outWidth, outWidth);
                        var destinationRow = destination.Slice(iy * width, width);
                        if (strideWidth == 1)
                        {
                            var target = destinationRow.Slice(start + columnOffset, end - start);
                            TensorPrimitives.Add(target, sourceRow[start..end], target);
                        }
                        else
                        {
                            for (int ox = start; ox < end; ox++)
                            {
                                destinationRow[ox * strideWidth + columnOffset] += sourceRow[ox];
                            }
                        }
                    }
                }
            }
        }
    }
}
