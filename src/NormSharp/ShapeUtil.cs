namespace NormSharp;

/// <summary>Shape arithmetic and formatting shared by tensors, kernels and error messages.</summary>
internal static class ShapeUtil
{
    public static long Count(ReadOnlySpan<int> shape)
    {
        long count = 1;
        foreach (int d in shape)
        {
            if (d < 0)
            {
                throw new ArgumentException($"Shape {Format(shape)} has a negative dimension.");
            }
            count *= d;
            if (count > Array.MaxLength)
            {
                throw new ArgumentException($"Shape {Format(shape)} has more elements than an array can hold ({Array.MaxLength}).");
            }
        }
        return count;
    }

    /// <summary>PyTorch-style shape text, e.g. "[2, 3, 4]".</summary>
    public static string Format(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";

    public static int NormalizeDim(int dim, int rank)
    {
        int d = dim < 0 ? dim + rank : dim;
        if (d < 0 || d >= rank)
        {
            throw new ArgumentOutOfRangeException(nameof(dim), dim, $"Dimension out of range (expected to be in [{-rank}, {rank - 1}]).");
        }
        return d;
    }

    /// <summary>Row-major strides of a contiguous shape.</summary>
    public static int[] Strides(ReadOnlySpan<int> shape)
    {
        var strides = new int[shape.Length];
        int s = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            strides[i] = s;
            s *= shape[i];
        }
        return strides;
    }

    /// <summary>Product of dimensions [start, end).</summary>
    public static int Product(ReadOnlySpan<int> shape, int start, int end)
    {
        int p = 1;
        for (int i = start; i < end; i++)
        {
            p *= shape[i];
        }
        return p;
    }

    /// <summary>The broadcast shape of two shapes under NumPy/PyTorch rules.</summary>
    public static int[] Broadcast(ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var result = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i < rank - a.Length ? 1 : a[i - (rank - a.Length)];
            int db = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            if (da != db && da != 1 && db != 1)
            {
                throw new ArgumentException(
                    $"Shapes {Format(a)} and {Format(b)} cannot be broadcast together: dimension {i} is {da} vs {db}.");
            }
            result[i] = da == 1 ? db : da;
        }
        return result;
    }

    /// <summary>Resolves a single -1 in a requested shape against an element count.</summary>
    public static int[] Infer(ReadOnlySpan<int> requested, int count, ReadOnlySpan<int> sourceShape)
    {
        var shape = requested.ToArray();
        int unknown = -1;
        long known = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] == -1)
            {
                if (unknown >= 0)
                {
                    throw new ArgumentException($"Only one dimension can be inferred (-1), got {Format(requested)}.");
                }
                unknown = i;
            }
            else if (shape[i] < 0)
            {
                throw new ArgumentException($"Invalid shape {Format(requested)}: dimensions must be >= 0 or -1.");
            }
            else
            {
                known *= shape[i];
            }
        }
        if (unknown >= 0)
        {
            if (known == 0 || count % known != 0)
            {
                throw new ArgumentException($"Shape {Format(requested)} is invalid for input of shape {Format(sourceShape)} ({count} elements).");
            }
            shape[unknown] = (int)(count / known);
        }
        else if (known != count)
        {
            throw new ArgumentException($"Shape {Format(requested)} ({known} elements) is invalid for input of shape {Format(sourceShape)} ({count} elements).");
        }
        return shape;
    }

    public static bool Equal(ReadOnlySpan<int> a, ReadOnlySpan<int> b) => a.SequenceEqual(b);
}
