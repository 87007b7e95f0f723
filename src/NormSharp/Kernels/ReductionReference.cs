namespace NormSharp.Kernels;

/// <summary>
/// Readable reference for <see cref="Reduction"/>: sums over any set of dimensions, one element at a time in double.
/// </summary>
internal static class ReductionReference
{
    /// <summary>
    /// destination[kept index] = scale · Σ over the reduced dimensions of source[index] (· factor[index] when
    /// <paramref name="factor"/> is not empty). The destination holds the kept dimensions in row-major order.
    /// </summary>
    // source, factor: shape; destination: shape without the reduced dimensions
    public static void Sum(
        ReadOnlySpan<float> source, ReadOnlySpan<float> factor, ReadOnlySpan<int> shape, ReadOnlySpan<bool> reduced, double scale, Span<float> destination)
    {
        Reduction.CheckArguments(source.Length, factor.Length, shape, reduced, destination.Length);
        var sums = new double[destination.Length];
        int rank = shape.Length;
        var index = new int[rank];
        for (int flat = 0; flat < source.Length; flat++)
        {
            // The destination index: the kept coordinates, row-major.
            int kept = 0;
            for (int d = 0; d < rank; d++)
            {
                if (!reduced[d])
                {
                    kept = kept * shape[d] + index[d];
                }
            }
            sums[kept] += factor.IsEmpty ? source[flat] : (double)source[flat] * factor[flat];
            for (int d = rank - 1; d >= 0; d--)
            {
                if (++index[d] < shape[d])
                {
                    break;
                }
                index[d] = 0;
            }
        }
        for (int i = 0; i < sums.Length; i++)
        {
            destination[i] = (float)(sums[i] * scale);
        }
    }
}
