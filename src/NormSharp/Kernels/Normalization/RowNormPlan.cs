namespace NormSharp.Kernels;

/// <summary>
/// One row-norm kernel call (<see cref="RowNormFast"/>): pointers, the [rows, rowLength] view, per-row statistics,
/// the number of threads, and the parameter-gradient totals the row ranges add into. Calls nothing above it.
/// </summary>
internal sealed unsafe class RowNormPlan
{
    public readonly float* Input, Weight, Bias;
    public float* Output, GradOutput, GradInput;
    public double* Mean, Variance, InvStd;
    public readonly int Rows, RowLength;

    /// <summary>Affine parameters per channel of the view [outer, AffineChannels, AffineInner] over the rows.</summary>
    public readonly int AffineChannels, AffineInner;
    public readonly bool MeanSquare;
    public readonly SimdWidth Width;
    public readonly int Workers;
    public double Eps;
    public double[]? WeightSums, BiasSums;
    private readonly object gate = new();

    public RowNormPlan(float* input, int rows, int rowLength, int affineChannels, int affineInner, float* weight, float* bias, bool meanSquare, SimdWidth width)
    {
        Input = input;
        Rows = rows;
        RowLength = rowLength;
        AffineChannels = affineChannels;
        AffineInner = affineInner;
        Weight = weight;
        Bias = bias;
        MeanSquare = meanSquare;
        Width = width;
        Workers = Parallelism.Workers((long)rows * rowLength * Parallelism.WorkPerNormalizedElement);
    }

    /// <summary>
    /// Whether the parameters go per element of a row, a row's being one contiguous slice of them (LayerNorm and RMSNorm;
    /// GroupNorm and InstanceNorm with one element a channel): the vector loops' own case. Else each applies to a run of
    /// <see cref="AffineInner"/> elements (GroupNorm, InstanceNorm).
    /// </summary>
    public bool PerElement => AffineInner == 1 && (RowLength == 0 || AffineChannels % RowLength == 0);

    /// <summary>The channel of the run of <see cref="AffineInner"/> elements at <paramref name="start"/> in row <paramref name="row"/>.</summary>
    public int Channel(int row, int start) =>
        AffineChannels == 0 || AffineInner == 0 ? 0 : (int)((((long)row * RowLength + start) / AffineInner) % AffineChannels);

    /// <summary>A channel's weight, or null without one.</summary>
    public float* WeightOf(int channel) => Weight is null ? null : Weight + channel;

    /// <summary>A channel's bias, or null without one.</summary>
    public float* BiasOf(int channel) => Bias is null ? null : Bias + channel;

    /// <summary>Adds one part's parameter-gradient sums (one per channel) into the totals.</summary>
    public void AddSums(double[]? weightSums, double[]? biasSums)
    {
        lock (gate)
        {
            for (int j = 0; j < AffineChannels; j++)
            {
                if (weightSums is not null)
                {
                    WeightSums![j] += weightSums[j];
                }
                if (biasSums is not null)
                {
                    BiasSums![j] += biasSums[j];
                }
            }
        }
    }
}
