using System.Runtime.CompilerServices;
namespace NormSharp.Kernels;

/// <summary>
/// Broadcasting binary ops at memory speed: same contract as <see cref="Broadcast.Binary{TOp}"/>, as runs of
/// TensorPrimitives calls over contiguous rows, threaded with <see cref="Parallelism"/>.
/// </summary>
/// <remarks>
/// Dimensions of size 1 are dropped and neighbours merged where both operands step through them alike (both
/// contiguous, or both broadcast), so that x + bias[1,C,1,1] on (N,C,H,W) becomes rows of H·W elements plus one
/// bias value each, rows + bias[C] becomes rows of C elements plus the bias row, and a scalar operand one long row.
/// In the innermost merged dimension each operand then has stride 1 (a row) or 0 (a value). A short row repeated over
/// every row of the other operand (rows + bias[C]) is tiled, so that one call covers many rows.
/// </remarks>
internal static unsafe class BroadcastFast
{
    // Rows longer than this are cut into segments, so that even one long row is split over threads.
    private const int SegmentLength = 1 << 15;

    // Floats of a tiled short row (see TiledRows): 16 KiB, which stays in L1 while the rows stream past it.
    private const int TileLength = 1 << 12;

    /// <inheritdoc cref="Broadcast.Binary{TOp}"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Binary<TOp>(
        ReadOnlySpan<float> a, int[] aStrides, ReadOnlySpan<float> b, int[] bStrides, int[] shape, Span<float> destination)
        where TOp : Broadcast.IBinaryRows
    {
        if (destination.IsEmpty)
        {
            return;
        }
        var (dims, strideA, strideB) = Merge(shape, aStrides, bStrides);
        int rank = dims.Length;
        int length = rank == 0 ? 1 : dims[rank - 1];
        int rows = destination.Length / length;
        int segments = (length + SegmentLength - 1) / SegmentLength;
        bool rowA = rank > 0 && strideA[rank - 1] == 1, rowB = rank > 0 && strideB[rank - 1] == 1;
        if (rank > 0 && (strideA[rank - 1] > 1 || strideB[rank - 1] > 1))
        {
            // Strides that are not row-major broadcasts (a permutation's): the element loop.
            Broadcast.Binary<TOp>(a, aStrides, b, bStrides, shape, destination);
            return;
        }
        if (rank == 2 && length <= TileLength / 2 && (IsRowOverRows(strideA, strideB, length) || IsRowOverRows(strideB, strideA, length)))
        {
            TiledRows<TOp>(a, b, strideA[0] == 0, rows, length, destination);
            return;
        }
        fixed (float* aPointer = a, bPointer = b, destinationPointer = destination)
        {
            var (pa, pb, pd) = ((nint)aPointer, (nint)bPointer, (nint)destinationPointer);
            Parallelism.For(rows * segments, Math.Min(length, SegmentLength), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (_, start, end) =>
            {
                for (int item = start; item < end; item++)
                {
                    int row = item / segments, from = item % segments * SegmentLength, count = Math.Min(SegmentLength, length - from);
                    // Offsets of the row's first element in each operand, from its multi-index over the outer dimensions.
                    long offsetA = 0, offsetB = 0;
                    for (int d = rank - 2, rest = row; d >= 0; d--)
                    {
                        int index = rest % dims[d];
                        rest /= dims[d];
                        offsetA += (long)index * strideA[d];
                        offsetB += (long)index * strideB[d];
                    }
                    var output = new Span<float>((float*)pd + (long)row * length + from, count);
                    float* rowStartA = (float*)pa + offsetA + (rowA ? from : 0), rowStartB = (float*)pb + offsetB + (rowB ? from : 0);
                    if (rowA && rowB)
                    {
                        TOp.Apply(new ReadOnlySpan<float>(rowStartA, count), new ReadOnlySpan<float>(rowStartB, count), output);
                    }
                    else if (rowA)
                    {
                        TOp.Apply(new ReadOnlySpan<float>(rowStartA, count), *rowStartB, output);
                    }
                    else if (rowB)
                    {
                        TOp.Apply(*rowStartA, new ReadOnlySpan<float>(rowStartB, count), output);
                    }
                    else
                    {
                        output.Fill(TOp.Apply(*rowStartA, *rowStartB));
                    }
                }
            });
        }
    }

    // Rows of a short length: one operand contiguous [rows, length], the other one row for all of them (rows + bias[C]).
    private static bool IsRowOverRows(int[] contiguous, int[] row, int length) =>
        contiguous[0] == length && contiguous[1] == 1 && row[0] == 0 && row[1] == 1;

    // A short row repeated over many rows (bias[C] added to (N·H·W, C) rows): the row is tiled TileLength / length
    // times, so that one TensorPrimitives call covers that many rows instead of one; a call per 64-float row cost
    // more than the memory traffic of the row itself.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TiledRows<TOp>(ReadOnlySpan<float> a, ReadOnlySpan<float> b, bool aIsRow, int rows, int length, Span<float> destination)
        where TOp : Broadcast.IBinaryRows
    {
        int tileRows = TileLength / length;
        var row = aIsRow ? a : b;
        var tile = new float[tileRows * length];
        for (int r = 0; r < tileRows; r++)
        {
            row.CopyTo(tile.AsSpan(r * length, length));
        }
        int blocks = (rows + tileRows - 1) / tileRows;
        fixed (float* aPointer = a, bPointer = b, destinationPointer = destination)
        {
            var (pa, pb, pd) = ((nint)aPointer, (nint)bPointer, (nint)destinationPointer);
            Parallelism.For(blocks, tile.Length, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (_, start, end) =>
            {
                for (int block = start; block < end; block++)
                {
                    long offset = (long)block * tile.Length;
                    int count = (int)Math.Min(tile.Length, (long)rows * length - offset);
                    var full = new ReadOnlySpan<float>((float*)(aIsRow ? pb : pa) + offset, count);
                    var output = new Span<float>((float*)pd + offset, count);
                    if (aIsRow)
                    {
                        TOp.Apply(tile.AsSpan(0, count), full, output);
                    }
                    else
                    {
                        TOp.Apply(full, tile.AsSpan(0, count), output);
                    }
                }
            });
        }
    }

    // The output shape without its size-1 dimensions, with neighbours merged where both operands allow it.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (int[] Dims, int[] StrideA, int[] StrideB) Merge(int[] shape, int[] aStrides, int[] bStrides)
    {
        var dims = new List<int>(shape.Length);
        var strideA = new List<int>(shape.Length);
        var strideB = new List<int>(shape.Length);
        for (int d = 0; d < shape.Length; d++)
        {
            if (shape[d] == 1)
            {
                continue;
            }
            int last = dims.Count - 1;
            // Dimension d continues the previous one when each operand either steps through both contiguously
            // (previous stride = this stride · this size) or broadcasts both.
            if (last >= 0 && Continues(strideA[last], aStrides[d], shape[d]) && Continues(strideB[last], bStrides[d], shape[d]))
            {
                dims[last] *= shape[d];
                strideA[last] = aStrides[d];
                strideB[last] = bStrides[d];
                continue;
            }
            dims.Add(shape[d]);
            strideA.Add(aStrides[d]);
            strideB.Add(bStrides[d]);
        }
        return ([.. dims], [.. strideA], [.. strideB]);
    }

    private static bool Continues(int outerStride, int innerStride, int innerSize) =>
        (outerStride == 0 && innerStride == 0) || (innerStride != 0 && outerStride == innerStride * innerSize);
}
