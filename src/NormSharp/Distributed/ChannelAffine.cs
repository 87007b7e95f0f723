using System.Numerics.Tensors;
using NormSharp.Kernels;

namespace NormSharp.Distributed;

/// <summary>
/// The per-channel affine pass SyncBatchNorm adds to the batch-norm kernels: over the [outer, channels, inner] view,
/// destination = scale[c] · (source − center[c]) + shift[c], or destination += that. Centering on a float close to the
/// channel's values first keeps a channel with a large mean exact (scale · source + shift would cancel two large terms).
/// Vectorized through TensorPrimitives, parallel over batch rows.
/// </summary>
internal static class ChannelAffine
{
    // source, destination: [outer, channels, inner]; center, scale, shift: [channels]. source may be destination when !accumulate.
    public static void Apply(float[] source, int sourceOffset, float[] destination, int destinationOffset,
        int outer, int channels, int inner, float[] center, float[] scale, float[] shift, bool accumulate)
    {
        long rowLength = (long)channels * inner;
        Parallelism.For(outer, 3 * rowLength, (_, start, end) =>
        {
            // one scratch row per range: (source − center) · scale + shift before it is added
            var scratch = accumulate ? new float[inner == 1 ? channels : inner] : [];
            for (int o = start; o < end; o++)
            {
                long row = o * rowLength;
                if (inner == 1)
                {
                    // channels last: vectors across the channels of one row
                    var x = source.AsSpan((int)(sourceOffset + row), channels);
                    var y = destination.AsSpan((int)(destinationOffset + row), channels);
                    Transform(x, center, scale, shift, y, accumulate ? scratch : y, accumulate);
                    continue;
                }
                for (int c = 0; c < channels; c++)
                {
                    var x = source.AsSpan((int)(sourceOffset + row + (long)c * inner), inner);
                    var y = destination.AsSpan((int)(destinationOffset + row + (long)c * inner), inner);
                    var temporary = accumulate ? scratch.AsSpan() : y;
                    TensorPrimitives.Subtract(x, center[c], temporary);
                    TensorPrimitives.Multiply(temporary, scale[c], temporary);
                    TensorPrimitives.Add(temporary, shift[c], temporary);
                    if (accumulate)
                    {
                        TensorPrimitives.Add(y, temporary, y);
                    }
                }
            }
        });
    }

    private static void Transform(ReadOnlySpan<float> x, ReadOnlySpan<float> center, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift,
        Span<float> y, Span<float> temporary, bool accumulate)
    {
        TensorPrimitives.Subtract(x, center, temporary);
        TensorPrimitives.MultiplyAdd(temporary, scale, shift, temporary);
        if (accumulate)
        {
            TensorPrimitives.Add(y, temporary, y);
        }
    }
}
