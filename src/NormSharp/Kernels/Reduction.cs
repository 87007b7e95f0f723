using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NormSharp.Kernels;

/// <summary>
/// Sums over any set of dimensions (<c>Sum</c>, <c>Mean</c>, the adjoint of broadcasting), vectorized with
/// TensorPrimitives and threaded with <see cref="Parallelism"/>; same contract as <see cref="ReductionReference.Sum"/>.
/// </summary>
/// <remarks>
/// <para>Adjacent dimensions that are both reduced or both kept are merged first, so any reduction is a sequence of
/// one of two passes over the source, then passes over a small double intermediate: when the innermost dimension is
/// reduced, each contiguous row is summed (<see cref="RowSums"/>); when it is kept, rows are added elementwise into
/// accumulators (<see cref="ColumnSums"/>).</para>
/// <para>Accuracy: rows are summed in blocks of <see cref="RowBlock"/> floats (in float vector lanes) whose sums are
/// added in double; column accumulators add at most <see cref="BlockRows"/> rows in float
/// before going into doubles. The error is then that of a float sum of one block or 32 rows plus a double sum, not of
/// the whole length (a float running sum of 6.4M elements loses ~2 digits).</para>
/// <para>Determinism: the split into ranges depends only on the shape and the processor count, and partial sums are
/// combined in range order, so a result does not depend on thread timing.</para>
/// </remarks>
internal static unsafe class Reduction
{
    /// <summary>A row longer than this is split over threads when there are too few rows to go around.</summary>
    public const int PartLength = 1 << 16;

    /// <summary>Most rows added into float column accumulators before they go into doubles.</summary>
    public const int BlockRows = 32;

    /// <summary>
    /// Floats summed in float lanes before the partial sum goes into a double: a whole 56×56
    /// plane in one call (Sum([0, 2, 3]) of (32, 64, 56, 56) ran 10-25% faster than with blocks of 1024, side by side).
    /// </summary>
    public const int RowBlock = 4096;

    // Column accumulators cover this many kept elements at a time: a whole row of an (N, C, H·W) tensor up to 64×64,
    // so that the rows of a Mean(1) are read end to end (4 KiB pieces of rows 12 KiB apart restart the hardware
    // prefetcher at every piece: Mean(1) of (32, 64, 56, 56) measured 3.6-3.7 ms with 1024, 3.3 ms with 4096, side
    // by side under load); the float accumulators (16 KiB) stay in L1, the doubles in L2.
    private const int ColumnChunk = 4096;

    /// <inheritdoc cref="ReductionReference.Sum"/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Sum(
        ReadOnlySpan<float> source, ReadOnlySpan<float> factor, ReadOnlySpan<int> shape, ReadOnlySpan<bool> reduced, double scale, Span<float> destination)
    {
        CheckArguments(source.Length, factor.Length, shape, reduced, destination.Length);
        if (source.IsEmpty)
        {
            destination.Fill((float)(0 * scale));   // an empty sum is 0, an empty mean NaN (0 · 1/0), as PyTorch
            return;
        }
        var groups = Merge(shape, reduced);
        // groups: (size, reduced) from outermost to innermost, alternating, none of size 1.
        if (!groups.Exists(group => group.Reduced))
        {
            Scale(source, factor, (float)scale, destination);
            return;
        }
        // The double intermediates come from ArrayPool (a rented array may be longer than `count`): a fresh one of
        // 800 KB, as Mean(1) of (32, 64, 56, 56) needs, cost ~0.9 ms in page faults and the collections that
        // large-object allocations trigger, about what reading the 25 MB source takes.
        double[] sums;
        int count;
        int last = groups.Count - 1;
        fixed (float* sourcePointer = source, factorPointer = factor)
        {
            var input = new Input(sourcePointer, factor.IsEmpty ? null : factorPointer);
            if (groups[last].Reduced)
            {
                int length = groups[last].Size;
                count = source.Length / length;
                sums = RowSums(input, count, length);
                groups.RemoveAt(last);
            }
            else
            {
                int inner = groups[last].Size, size = groups[last - 1].Size;
                count = source.Length / size;
                sums = ColumnSums(input, count / inner, size, inner);
                groups.RemoveAt(last - 1);
            }
        }
        // The rest reduces a small double array: [outer, size, inner] -> [outer, inner] for each reduced group left.
        for (int g = groups.Count - 1; g >= 0; g--)
        {
            if (!groups[g].Reduced)
            {
                continue;
            }
            int inner = 1;
            for (int k = g + 1; k < groups.Count; k++)
            {
                inner *= groups[k].Size;
            }
            var reducedSums = ReduceMiddle(sums.AsSpan(0, count), groups[g].Size, inner);
            ArrayPool<double>.Shared.Return(sums);
            (sums, count) = (reducedSums, count / groups[g].Size);
            groups.RemoveAt(g);
        }
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = (float)(sums[i] * scale);
        }
        ArrayPool<double>.Shared.Return(sums);
    }

    // A pooled double buffer whose first `length` elements are zero.
    private static double[] RentCleared(long length)
    {
        var buffer = ArrayPool<double>.Shared.Rent(checked((int)length));
        buffer.AsSpan(0, (int)length).Clear();
        return buffer;
    }

    // Nothing to reduce: destination = source (· factor) · scale, elementwise.
    private static void Scale(ReadOnlySpan<float> source, ReadOnlySpan<float> factor, float scale, Span<float> destination)
    {
        fixed (float* sourcePointer = source, factorPointer = factor, destinationPointer = destination)
        {
            var (ps, pf, pd) = ((nint)sourcePointer, (nint)factorPointer, (nint)destinationPointer);
            bool withFactor = !factor.IsEmpty;
            Elementwise.ForChunks(source.Length, (start, count) =>
            {
                var values = new ReadOnlySpan<float>((float*)ps + start, count);
                var output = new Span<float>((float*)pd + start, count);
                if (withFactor)
                {
                    TensorPrimitives.Multiply(values, new ReadOnlySpan<float>((float*)pf + start, count), output);
                    TensorPrimitives.Multiply(output, scale, output);
                }
                else
                {
                    TensorPrimitives.Multiply(values, scale, output);
                }
            });
        }
    }

    /// <summary>Argument checks shared with the reference.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void CheckArguments(int sourceLength, int factorLength, ReadOnlySpan<int> shape, ReadOnlySpan<bool> reduced, int destinationLength)
    {
        if (reduced.Length != shape.Length)
        {
            throw new ArgumentException($"Reduction needs one reduce flag per dimension: shape {ShapeUtil.Format(shape)}, {reduced.Length} flags.");
        }
        long count = 1, kept = 1;
        for (int d = 0; d < shape.Length; d++)
        {
            count *= shape[d];
            kept *= reduced[d] ? 1 : shape[d];
        }
        if (count != sourceLength || (factorLength != 0 && factorLength != sourceLength) || kept != destinationLength)
        {
            throw new ArgumentException(
                $"Reduction of shape {ShapeUtil.Format(shape)} needs a source of {count} elements, a factor of 0 or {count} and a destination of {kept}; got {sourceLength}, {factorLength} and {destinationLength}.");
        }
    }

    // Drops dimensions of size 1 (they change no index) and merges neighbours that are both reduced or both kept.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static List<(int Size, bool Reduced)> Merge(ReadOnlySpan<int> shape, ReadOnlySpan<bool> reduced)
    {
        var groups = new List<(int Size, bool Reduced)>(shape.Length);
        for (int d = 0; d < shape.Length; d++)
        {
            if (shape[d] == 1)
            {
                continue;
            }
            if (groups.Count > 0 && groups[^1].Reduced == reduced[d])
            {
                groups[^1] = (groups[^1].Size * shape[d], reduced[d]);
            }
            else
            {
                groups.Add((shape[d], reduced[d]));
            }
        }
        return groups;
    }

    /// <summary>The source and the optional factor (null when absent), both pinned by the caller.</summary>
    private readonly struct Input(float* source, float* factor)
    {
        public readonly float* Source = source;
        public readonly float* Factor = factor;

        // Σ source[start..start+length) (· factor): each block of RowBlock floats is summed in float vector lanes
        // (StreamSum, StreamDot), and the blocks are added in double, in order. Widening every float to double instead was
        // bound by the conversions and the adds' latency, not by memory: 2048 rows of 3136 floats took 3.5 ms that
        // way against 1.6 ms in blocks, side by side in one process (load average 12).
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public double Sum(long start, int length)
        {
            double sum = 0;
            for (int from = 0; from < length; from += RowBlock)
            {
                int count = Math.Min(RowBlock, length - from);
                sum += Factor is null ? StreamSum(Source + start + from, count) : StreamDot(Source + start + from, Factor + start + from, count);
            }
            return sum;
        }
    }

    /// <summary>How far ahead of its loads a streaming sum prefetches, in floats (4 KiB: one page).</summary>
    public const int PrefetchDistance = 1024;

    // Σ x[0..count) in float lanes, as TensorPrimitives.Sum, with a software prefetch PrefetchDistance floats ahead of
    // the loads: the hardware prefetcher stops at every 4 KiB page. Summing 2048 rows of 3136 floats on two threads,
    // alternating with TensorPrimitives.Sum in one process, took 10-14% less time with the prefetch and the same
    // without it (Cascade Lake VM).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float StreamSum(float* x, int count)
    {
        if (!Vector256.IsHardwareAccelerated)
        {
            return TensorPrimitives.Sum(new ReadOnlySpan<float>(x, count));
        }
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int i = 0;
        for (; i <= count - 32; i += 32)
        {
            Prefetch(x + i + PrefetchDistance);   // one line a step: the adjacent-line prefetcher brings its pair
            a0 += Vector256.Load(x + i);
            a1 += Vector256.Load(x + i + 8);
            a2 += Vector256.Load(x + i + 16);
            a3 += Vector256.Load(x + i + 24);
        }
        for (; i <= count - 8; i += 8)
        {
            a0 += Vector256.Load(x + i);
        }
        float sum = Vector256.Sum((a0 + a1) + (a2 + a3));
        for (; i < count; i++)
        {
            sum += x[i];
        }
        return sum;
    }

    // Σ x[i] · y[i] over [0, count), as TensorPrimitives.Dot, prefetching both streams as StreamSum does.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float StreamDot(float* x, float* y, int count)
    {
        if (!Vector256.IsHardwareAccelerated)
        {
            return TensorPrimitives.Dot(new ReadOnlySpan<float>(x, count), new ReadOnlySpan<float>(y, count));
        }
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int i = 0;
        for (; i <= count - 32; i += 32)
        {
            Prefetch(x + i + PrefetchDistance);
            Prefetch(y + i + PrefetchDistance);
            a0 = Vector256.FusedMultiplyAdd(Vector256.Load(x + i), Vector256.Load(y + i), a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Load(x + i + 8), Vector256.Load(y + i + 8), a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.Load(x + i + 16), Vector256.Load(y + i + 16), a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.Load(x + i + 24), Vector256.Load(y + i + 24), a3);
        }
        for (; i <= count - 8; i += 8)
        {
            a0 = Vector256.FusedMultiplyAdd(Vector256.Load(x + i), Vector256.Load(y + i), a0);
        }
        float sum = Vector256.Sum((a0 + a1) + (a2 + a3));
        for (; i < count; i++)
        {
            sum += x[i] * y[i];
        }
        return sum;
    }

    // A prefetch never faults, so it may point past the end of the data.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Prefetch(float* address)
    {
        if (Sse.IsSupported)
        {
            Sse.Prefetch0(address);
        }
    }

    // [rows, length] -> Σ of each row. Rows are split over threads; so is a row itself when there are too few rows
    // to go around (a full reduction is one row), in parts whose sums are added in order.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double[] RowSums(Input input, int rows, int length)
    {
        var sums = ArrayPool<double>.Shared.Rent(rows);
        int parts = rows >= 4 * Parallelism.Threads ? 1 : Math.Max(1, length / PartLength);
        var partial = parts == 1 ? sums : ArrayPool<double>.Shared.Rent(rows * parts);
        Parallelism.For(rows * parts, Math.Max(1, length / parts), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (_, start, end) =>
        {
            for (int item = start; item < end; item++)
            {
                int row = item / parts, part = item % parts;
                int from = (int)((long)length * part / parts), to = (int)((long)length * (part + 1) / parts);
                partial[item] = input.Sum((long)row * length + from, to - from);
            }
        });
        if (parts > 1)
        {
            for (int row = 0; row < rows; row++)
            {
                double sum = 0;
                for (int part = 0; part < parts; part++)
                {
                    sum += partial[row * parts + part];
                }
                sums[row] = sum;
            }
            ArrayPool<double>.Shared.Return(partial);
        }
        return sums;
    }

    // [outer, size, inner] -> Σ over size, per (outer, inner). Work items are (outer, chunk of inner); when they are too
    // few for the threads, the summed dimension is split too, and the parts are added in order.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double[] ColumnSums(Input input, int outer, int size, int inner)
    {
        int chunks = (inner + ColumnChunk - 1) / ColumnChunk;
        int items = outer * chunks;
        int parts = items >= 2 * Parallelism.Threads ? 1 : Math.Max(1, Math.Min(size / BlockRows, 2 * Parallelism.Threads / items));
        var partial = RentCleared((long)parts * outer * inner);
        Parallelism.For(items * parts, (long)size / parts * Math.Min(inner, ColumnChunk), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (_, start, end) =>
        {
            Span<float> block = stackalloc float[ColumnChunk];
            for (int item = start; item < end; item++)
            {
                int part = item / items, o = item % items / chunks, chunk = item % chunks;
                int from = chunk * ColumnChunk, width = Math.Min(ColumnChunk, inner - from);
                int rowStart = (int)((long)size * part / parts), rowEnd = (int)((long)size * (part + 1) / parts);
                var accumulator = partial.AsSpan((int)(((long)part * outer + o) * inner + from), width);
                var floats = block[..width];
                for (int row = rowStart; row < rowEnd; row += BlockRows)
                {
                    floats.Clear();
                    for (int r = row; r < Math.Min(rowEnd, row + BlockRows); r++)
                    {
                        long offset = ((long)o * size + r) * inner + from;
                        var values = new ReadOnlySpan<float>(input.Source + offset, width);
                        if (input.Factor is null)
                        {
                            TensorPrimitives.Add(floats, values, floats);
                        }
                        else
                        {
                            TensorPrimitives.MultiplyAdd(values, new ReadOnlySpan<float>(input.Factor + offset, width), floats, floats);
                        }
                    }
                    for (int i = 0; i < width; i++)
                    {
                        accumulator[i] += floats[i];
                    }
                }
            }
        });
        if (parts == 1)
        {
            return partial;
        }
        var sums = ArrayPool<double>.Shared.Rent(outer * inner);
        var total = sums.AsSpan(0, outer * inner);
        partial.AsSpan(0, outer * inner).CopyTo(total);
        for (int part = 1; part < parts; part++)
        {
            TensorPrimitives.Add(total, partial.AsSpan(part * outer * inner, outer * inner), total);
        }
        ArrayPool<double>.Shared.Return(partial);
        return sums;
    }

    // [outer, size, inner] -> [outer, inner] on an intermediate in double; the result is pooled.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double[] ReduceMiddle(ReadOnlySpan<double> values, int size, int inner)
    {
        int outer = values.Length / (size * inner);
        var result = RentCleared((long)outer * inner);
        for (int o = 0; o < outer; o++)
        {
            var destination = result.AsSpan(o * inner, inner);
            for (int s = 0; s < size; s++)
            {
                TensorPrimitives.Add(destination, values.Slice((o * size + s) * inner, inner), destination);
            }
        }
        return result;
    }
}
