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
    public readonly bool MeanSquare;
    public readonly SimdWidth Width;
    public readonly int Workers;
    public double Eps;
    public double[]? WeightSums, BiasSums;
    private readonly object gate = new();

    public RowNormPlan(float* input, int rows, int rowLength, float* weight, float* bias, bool meanSquare, SimdWidth width)
    {
        Input = input;
        Rows = rows;
        RowLength = rowLength;
        Weight = weight;
        Bias = bias;
        MeanSquare = meanSquare;
        Width = width;
        Workers = Parallelism.Workers((long)rows * rowLength * Parallelism.WorkPerNormalizedElement);
    }

    /// <summary>Adds one part's parameter-gradient sums into the totals.</summary>
    public void AddSums(double[]? weightSums, double[]? biasSums)
    {
        lock (gate)
        {
            for (int j = 0; j < RowLength; j++)
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
