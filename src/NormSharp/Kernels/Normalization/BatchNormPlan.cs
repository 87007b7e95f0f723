using System.Runtime.InteropServices;

namespace NormSharp.Kernels;

/// <summary>What one call of a <see cref="BatchNormFast"/> entry point computes.</summary>
internal enum BatchNormStage
{
    /// <summary>Batch statistics, then y.</summary>
    TrainForward,

    /// <summary>y from the given statistics.</summary>
    EvalForward,

    /// <summary>Σ dy and Σ dy (x − mean) per channel (for the training dx or the parameter gradients), then dx.</summary>
    BackwardWithSums,

    /// <summary>dx = weight · invStd · dy only (evaluation, no parameter gradients).</summary>
    BackwardNoSums,
}

/// <summary>
/// One batch-norm kernel call: pointers, the [outer, channels, inner] view, per-channel statistics and the folded
/// coefficients (see <see cref="BatchNormFast"/>'s remarks), and the number of threads. The layout kernels
/// (<see cref="BatchNormChannelsFirst{TVector, TOps}"/>, <see cref="BatchNormChannelsLast{TVector, TOps}"/>) fill in
/// its statistics and sums and read its coefficients; it calls nothing above it.
/// </summary>
internal sealed unsafe class BatchNormPlan
{
    public readonly float* Input, Output, Weight, Bias;
    public float* GradOutput, GradInput;
    public readonly int Outer, Channels, Inner;
    public readonly long Count;
    public readonly bool Relu;
    public readonly SimdWidth Width;
    public readonly int Workers;
    public double Eps;
    public bool Training;

    /// <summary>Whether outputs are written with non-temporal stores (see <see cref="BatchNormFast.StreamingFloats"/>).</summary>
    public bool Streaming;

    // Per channel: statistics in double, the folded float coefficients, and the backward's sums.
    public readonly double[] Mean, InvStd, Variance, SumGrad, SumGradCentered;
    public readonly float* Center, Scale, Shift, GradScale, GradBeta, GradGamma;

    // The coefficients, each 64-byte aligned: channels-last loops load a vector of each per vector of data, and a
    // load that straddles two cache lines costs two (measured: 25088 rows of 256 channels, eval 0.84 -> 0.48 ms).
    // Pinned, so the pointers stay valid while the plan lives (callers keep the plan alive while kernels run).
    private readonly float[] coefficients;

    public BatchNormPlan(float* input, float* output, int outer, int channels, int inner, float* weight, float* bias, bool relu, SimdWidth width)
    {
        Input = input;
        Output = output;
        Outer = outer;
        Channels = channels;
        Inner = inner;
        Count = (long)outer * inner;
        Weight = weight;
        Bias = bias;
        Relu = relu;
        Width = width;
        Workers = Parallelism.Workers(Count * channels * Parallelism.WorkPerNormalizedElement);
        Mean = new double[channels];
        InvStd = new double[channels];
        Variance = new double[channels];
        SumGrad = new double[channels];
        SumGradCentered = new double[channels];
        int stride = (channels + Alignment.SlackFloats) & ~Alignment.SlackFloats;
        coefficients = GC.AllocateArray<float>(6 * stride + Alignment.SlackFloats, pinned: true);
        float* start = (float*)Marshal.UnsafeAddrOfPinnedArrayElement(coefficients, Alignment.AlignedOffset(coefficients));
        Center = start;
        Scale = start + stride;
        Shift = start + 2 * stride;
        GradScale = start + 3 * stride;
        GradBeta = start + 4 * stride;
        GradGamma = start + 5 * stride;
    }

    /// <summary>Ends a kernel run: the pinned coefficient block is used through pointers only, so the GC must see a use.</summary>
    public void KeepCoefficientsAlive() => GC.KeepAlive(coefficients);

    /// <summary>Statistics of channel c from its merged moments, then its forward coefficients.</summary>
    public void SetStatistics(int c, in Moments moments)
    {
        Mean[c] = moments.SafeMean;
        Variance[c] = moments.Variance;
        InvStd[c] = 1 / Math.Sqrt(Variance[c] + Eps);
        SetForwardCoefficients(c);
    }

    /// <summary>Statistics of every channel from per-part moments partial[part][c], merged in part order (deterministic).</summary>
    public void SetStatistics(Moments[][] partial)
    {
        for (int c = 0; c < Channels; c++)
        {
            var total = default(Moments);
            foreach (var part in partial)
            {
                total.Merge(part[c]);
            }
            SetStatistics(c, total);
        }
    }

    /// <summary>One zeroed per-channel array per part, for partial sums reduced in parallel and merged in part order.</summary>
    public T[][] NewPartials<T>(int parts)
    {
        var partials = new T[parts][];
        for (int part = 0; part < parts; part++)
        {
            partials[part] = new T[Channels];
        }
        return partials;
    }

    /// <summary>The forward fold of every channel.</summary>
    public void SetForwardCoefficients()
    {
        for (int c = 0; c < Channels; c++)
        {
            SetForwardCoefficients(c);
        }
    }

    /// <summary>
    /// The forward fold of channel c: y = (x − Center) · Scale + Shift. Center is the mean rounded to float, or 0
    /// (the plain fold y = x · Scale + Shift) when x − Center could overflow float: batch values lie within
    /// √Count / invStd of the mean, so that happens only for channels spread over most of float's range.
    /// Decided from (Mean, InvStd, Count) alone, so that a backward recomputes the forward's fold exactly.
    /// </summary>
    public void SetForwardCoefficients(int c)
    {
        double scale = InvStd[c] * (Weight is null ? 1 : Weight[c]);
        float center = (float)Mean[c];
        if (Moments.CenteringMayOverflow(Mean[c], InvStd[c], Count))
        {
            center = 0;
        }
        Center[c] = center;
        Scale[c] = (float)scale;
        Shift[c] = (float)((Bias is null ? 0 : Bias[c]) + (center - Mean[c]) * scale);
    }

    /// <summary>Adds per-part sums grads[part][c] (Σ g) and products[part][c] (Σ g (x − Center)) in part order, then sets the backward fold of every channel.</summary>
    public void SetGradSums(double[][] grads, double[][] products)
    {
        for (int c = 0; c < Channels; c++)
        {
            for (int part = 0; part < grads.Length; part++)
            {
                SumGrad[c] += grads[part][c];
                SumGradCentered[c] += products[part][c];
            }
            SetBackwardCoefficients(c);
        }
    }

    /// <summary>The backward fold of every channel without sums (evaluation: dx = GradScale · g).</summary>
    public void SetBackwardCoefficients()
    {
        for (int c = 0; c < Channels; c++)
        {
            SetBackwardCoefficients(c);
        }
    }

    /// <summary>The backward fold of channel c: dx = GradScale · g + GradBeta · (x − Center) + GradGamma.</summary>
    public void SetBackwardCoefficients(int c)
    {
        double k = InvStd[c] * (Weight is null ? 1 : Weight[c]);
        GradScale[c] = (float)k;
        if (!Training || Count == 0)
        {
            GradBeta[c] = 0;
            GradGamma[c] = 0;
            return;
        }
        // Σ g (x − mean) from the sum centred on the float mean; see BatchNormFast's remarks for the fold.
        double centeredSum = SumGradCentered[c] + ((double)Center[c] - Mean[c]) * SumGrad[c];
        double beta = -k * InvStd[c] * InvStd[c] * centeredSum / Count;
        GradBeta[c] = (float)beta;
        GradGamma[c] = (float)(-k * SumGrad[c] / Count + beta * ((double)Center[c] - Mean[c]));
    }

    /// <summary>Σ dy · x̂ of channel c = invStd · Σ dy (x − mean), from the sum centred on the float mean.</summary>
    public double GradWeight(int c) => InvStd[c] * (SumGradCentered[c] + ((double)Center[c] - Mean[c]) * SumGrad[c]);
}
