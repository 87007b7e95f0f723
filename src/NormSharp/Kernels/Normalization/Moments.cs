namespace NormSharp.Kernels;

/// <summary>
/// (count, mean, M2 = Σ (x − mean)²) of a set of elements, in double, merged with Chan's formula: the statistics
/// every fast normalization kernel reduces to. Chunks of at most <see cref="ChunkLength"/> floats are reduced exactly
/// in float by <see cref="MomentKernels{TVector, TOps}"/> and merged here, so memory is read once and a channel with
/// mean 1e4 and standard deviation 1e-2 keeps its variance to float accuracy.
/// </summary>
internal struct Moments
{
    /// <summary>Elements reduced in one float two-pass chunk before merging in double; a multiple of every vector width.</summary>
    public const int ChunkLength = 2048;

    public double Count, Mean, M2;

    /// <summary>The mean, 0 for no elements.</summary>
    public readonly double SafeMean => Count > 0 ? Mean : 0;

    /// <summary>The biased variance M2 / Count, never negative; 0 for no elements.</summary>
    public readonly double Variance => Count > 0 ? Math.Max(0, M2 / Count) : 0;

    /// <summary>Adds the moments (count, mean, m2) of a disjoint set of elements (Chan, Golub and LeVeque).</summary>
    public void Merge(double count, double mean, double m2)
    {
        if (count == 0)
        {
            return;
        }
        double total = Count + count;
        double delta = mean - Mean;
        Mean += delta * count / total;
        M2 += m2 + delta * delta * Count * count / total;
        Count = total;
    }

    /// <summary>Adds the moments of another set.</summary>
    public void Merge(in Moments other) => Merge(other.Count, other.Mean, other.M2);

    /// <summary>
    /// Whether x − (float)mean may overflow float for the elements these statistics came from: they lie within
    /// √count / invStd (at least √(M2)) of the mean, so this holds only for data spread over most of float's range,
    /// and the kernels then avoid the subtraction. Uses only (mean, invStd, count), which a backward has too.
    /// </summary>
    public static bool CenteringMayOverflow(double mean, double invStd, double count) =>
        Math.Sqrt(count) / invStd + Math.Abs((float)mean - mean) >= 0.99 * float.MaxValue;

    /// <summary>
    /// Exact moments in double of <paramref name="runs"/> runs of <paramref name="length"/> floats,
    /// <paramref name="runStride"/> floats apart, elements <paramref name="elementStride"/> apart (a channels-last
    /// column is runs of length 1): the scalar two-pass definition. The float kernels fall back to it for a chunk whose
    /// float sums overflowed: a square overflows float from |x − mean| ≈ 1.8e19, a sum of 2048 elements from 1.7e35,
    /// while in double neither can for any finite float input.
    /// </summary>
    public static unsafe (double Mean, double M2) OfFloats(float* x, int length, long elementStride, int runs, long runStride)
    {
        double count = (double)runs * length;
        if (count == 0)
        {
            return (0, 0);
        }
        double sum = 0;
        for (int r = 0; r < runs; r++)
        {
            for (int i = 0; i < length; i++)
            {
                sum += x[r * runStride + i * elementStride];
            }
        }
        double first = sum / count;
        double squares = 0, deviations = 0;
        for (int r = 0; r < runs; r++)
        {
            for (int i = 0; i < length; i++)
            {
                double d = x[r * runStride + i * elementStride] - first;
                squares += d * d;
                deviations += d;
            }
        }
        return (first + deviations / count, Math.Max(0, squares - deviations * deviations / count));
    }
}
