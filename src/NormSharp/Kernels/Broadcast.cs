using System.Runtime.CompilerServices;
namespace NormSharp.Kernels;

/// <summary>
/// Broadcasting loops, element by element: the readable reference of <see cref="BroadcastFast"/> (and the gather
/// behind permutations, whose strides are not a broadcast's). The adjoint of broadcasting, summing a gradient back to
/// an operand's shape, is a <see cref="Reduction"/>. An operand's broadcast strides (from <see cref="Strides"/>) are its
/// row-major strides aligned to the output's rank, with 0 wherever the operand has size 1.
/// </summary>
internal static class Broadcast
{
    /// <summary>Strides of <paramref name="shape"/> viewed as broadcast to <paramref name="outputShape"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int[] Strides(ReadOnlySpan<int> shape, ReadOnlySpan<int> outputShape)
    {
        var strides = new int[outputShape.Length];
        int lead = outputShape.Length - shape.Length;
        int s = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            strides[lead + i] = shape[i] == 1 ? 0 : s;
            s *= shape[i];
        }
        return strides;
    }

    /// <summary>A binary op on one pair of values (the reference kernel's element loop).</summary>
    public interface IBinary
    {
        static abstract float Apply(float a, float b);
    }

    /// <summary>A binary op that the fast kernels also apply to whole rows (TensorPrimitives).</summary>
    public interface IBinaryRows : IBinary
    {
        /// <summary>destination[i] = op(a[i], b[i]).</summary>
        static abstract void Apply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> destination);

        /// <summary>destination[i] = op(a[i], b).</summary>
        static abstract void Apply(ReadOnlySpan<float> a, float b, Span<float> destination);

        /// <summary>destination[i] = op(a, b[i]).</summary>
        static abstract void Apply(float a, ReadOnlySpan<float> b, Span<float> destination);
    }

    /// <summary>destination[idx] = op(a[idx · aStrides], b[idx · bStrides]) for every index of <paramref name="shape"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Binary<TOp>(
        ReadOnlySpan<float> a, int[] aStrides, ReadOnlySpan<float> b, int[] bStrides, int[] shape, Span<float> destination)
        where TOp : IBinary
    {
        int rank = shape.Length;
        if (destination.Length == 0)
        {
            return;
        }
        if (rank == 0)
        {
            destination[0] = TOp.Apply(a[0], b[0]);
            return;
        }
        int inner = shape[rank - 1];
        int sa = aStrides[rank - 1], sb = bStrides[rank - 1];
        int outer = destination.Length / inner;
        var index = new int[rank];
        int offsetA = 0, offsetB = 0;
        for (int o = 0; o < outer; o++)
        {
            var row = destination.Slice(o * inner, inner);
            for (int i = 0; i < inner; i++)
            {
                row[i] = TOp.Apply(a[offsetA + i * sa], b[offsetB + i * sb]);
            }
            Advance(index, shape, aStrides, bStrides, ref offsetA, ref offsetB);
        }
    }

    // Steps the multi-index over all but the last dimension, keeping both operand offsets in step.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Advance(int[] index, int[] shape, int[] aStrides, int[] bStrides, ref int offsetA, ref int offsetB)
    {
        for (int d = shape.Length - 2; d >= 0; d--)
        {
            index[d]++;
            offsetA += aStrides[d];
            offsetB += bStrides[d];
            if (index[d] < shape[d])
            {
                return;
            }
            offsetA -= aStrides[d] * shape[d];
            offsetB -= bStrides[d] * shape[d];
            index[d] = 0;
        }
    }
}
