using NormSharp.Functional;
using NormSharp.Kernels;

namespace NormSharp.Nn;

/// <summary>
/// Batch Renormalization (Ioffe, 2017, "Batch Renormalization: Towards Reducing Minibatch Dependence in
/// Batch-Normalized Models"): batch norm whose training output is corrected toward what the running statistics would
/// give, so that training and inference compute the same function and small or non-i.i.d. batches hurt less.
/// </summary>
/// <remarks>
/// <para><b>Training</b>, per channel: x̂ = (x − μB) / σB · r + d, y = γ · x̂ + β, with
/// σB = √(biased batch variance + eps), σ = √(running_var + eps),
/// r = clip(σB / σ, 1 / rMax, rMax) and d = clip((μB − running_mean) / σ, −dMax, dMax), taken from the running
/// statistics as they were before this batch. r and d are constants for the backward (the paper's stop-gradient), so
/// the input gradient is batch norm's with weight γ · r, and ∂L/∂γ = Σ dy · x̂. The running statistics then move
/// exactly as <see cref="BatchNorm2d"/>'s (momentum on the new value, unbiased variance), and
/// <see cref="NormBase.NumBatchesTracked"/> counts the step.</para>
/// <para><b>Evaluation</b>: the running statistics, as batch norm. With <see cref="RMax"/> 1 and <see cref="DMax"/> 0
/// the layer is <see cref="BatchNorm2d"/> exactly (same outputs, gradients and running statistics, bit for bit).</para>
/// <para><b>Schedule</b>: the paper trains with rMax = 1, dMax = 0 (plain batch norm) for a warm-up and then relaxes
/// them to 3 and 5; <see cref="RMax"/> and <see cref="DMax"/> are settable, and <see cref="BatchRenormSchedule"/>
/// sets them on every layer of a model per step.</para>
/// <para><b>Keras' <c>BatchNormalization(renorm=True)</c></b> differs: it keeps separate renorm moving averages of
/// the mean and of the standard deviation (<c>renorm_momentum</c>, default 0.99) to compute r and d, besides the moving
/// mean and variance used for inference, and its momentum weighs the old value. Here r and d come from the same running
/// statistics inference uses, as in the paper's Algorithm 1, with PyTorch's momentum convention.</para>
/// <para>The layer always tracks running statistics (r and d need them). Recalibration
/// (<see cref="BatchNormStatistics"/>), <see cref="BatchNormBase.FreezeStatistics"/> and folding
/// (<see cref="Fusion"/>) treat it as a batch norm. The forward with batch statistics reads the input once more than
/// batch norm does (the statistics for r and d are taken before the normalizing pass): about twice batch norm's
/// training forward (bench: "BatchRenorm2d NCHW").</para>
/// </remarks>
public abstract class BatchRenormBase : BatchNormBase
{
    /// <summary>Creates the layer; arguments as <see cref="BatchNormBase"/>'s, plus the clipping bounds.</summary>
    /// <exception cref="ArgumentOutOfRangeException">rMax below 1 or dMax below 0 (or either not finite), or an invalid batch-norm argument.</exception>
    private protected BatchRenormBase(int numFeatures, double eps, double? momentum, double rMax, double dMax, bool affine, int channelAxis)
        : base(numFeatures, eps, momentum, affine, trackRunningStats: true, channelAxis)
    {
        RMax = rMax;
        DMax = dMax;
    }

    /// <summary>Upper clip of r (lower clip 1 / RMax); at least 1, where 1 means r = 1. The paper: 1, relaxed to 3.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value below 1 or not finite.</exception>
    public double RMax
    {
        get;
        set
        {
            if (!(value >= 1) || double.IsInfinity(value))
            {
                throw new ArgumentOutOfRangeException(nameof(RMax), value, "BatchRenorm needs a finite rMax >= 1 (r is clipped to [1/rMax, rMax]; 1 turns the correction off).");
            }
            field = value;
        }
    }

    /// <summary>Clip of d to [−DMax, DMax]; at least 0, where 0 means d = 0. The paper: 0, relaxed to 5.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value below 0 or not finite.</exception>
    public double DMax
    {
        get;
        set
        {
            if (!(value >= 0) || double.IsInfinity(value))
            {
                throw new ArgumentOutOfRangeException(nameof(DMax), value, "BatchRenorm needs a finite dMax >= 0 (d is clipped to [-dMax, dMax]; 0 turns the correction off).");
            }
            field = value;
        }
    }

    private protected override Tensor ForwardBatchStatistics(Tensor input, int axis, bool relu)
    {
        var (outer, channels, inner) = F.ChannelView(input, axis);
        var mean = new double[channels];
        var invStd = new double[channels];
        // The batch statistics come from the batch-norm kernel itself (its exact chunked two-pass statistics, vectorized
        // and threaded), normalizing into a scratch tensor: a scalar statistics pass took 3.5 times a whole BN forward.
        using (var scratch = Tensor.Uninitialized(input.Shape))
        {
            BatchNormFast.ForwardTraining(input.Data, outer, channels, inner, default, default, Eps, 0, default, default, mean, invStd, scratch.AsSpan());
        }
        var r = new float[channels];
        var d = new float[channels];
        var runningMean = RunningMean!.Data;
        var runningVar = RunningVar!.Data;
        for (int c = 0; c < channels; c++)
        {
            double runningStd = Math.Sqrt(runningVar[c] + Eps);
            r[c] = (float)Math.Clamp(1 / (invStd[c] * runningStd), 1 / RMax, RMax);
            d[c] = (float)Math.Clamp((mean[c] - runningMean[c]) / runningStd, -DMax, DMax);
        }
        // γ · x̂ + β = (γ · r) · (x − μB) / σB + (γ · d + β): batch norm with these per-channel parameters, whose
        // closed-form backward is the renorm backward with r and d constant; autograd carries ∂L/∂γ = r · Σ dy x̂B + d · Σ dy.
        var rTensor = Tensor.FromArray(r, channels);
        var dTensor = Tensor.FromArray(d, channels);
        var weight = Weight is null ? rTensor : Weight * rTensor;
        var bias = Weight is null ? dTensor : Weight * dTensor + Bias!;
        double factor = Training ? NextUpdateFactor() : 0;
        return F.BatchNorm(input, RunningMean, RunningVar, weight, bias, true, factor, Eps, axis, relu);
    }

    /// <inheritdoc/>
    public override string ToString() =>
        base.ToString().Replace(", affine:", FormattableString.Invariant($", rMax: {RMax}, dMax: {DMax}, affine:"), StringComparison.Ordinal);
}

/// <summary>Batch Renormalization over (N, C) or (N, C, L) input (channels last: (N, L, C)); see <see cref="BatchRenormBase"/>.</summary>
/// <param name="numFeatures">C.</param>
/// <param name="eps">Added to the variances inside the square roots; default 1e-5.</param>
/// <param name="momentum">Weight of the new batch statistic in the running average (PyTorch's convention, default 0.1); null = cumulative average.</param>
/// <param name="rMax">Clip of r to [1/rMax, rMax], at least 1; default 3 (the paper's final value).</param>
/// <param name="dMax">Clip of d to [−dMax, dMax], at least 0; default 5 (the paper's final value).</param>
/// <param name="affine">Learn γ (ones) and β (zeros).</param>
/// <param name="channelAxis">1 (channels first) or -1 (channels last).</param>
public sealed class BatchRenorm1d(int numFeatures, double eps = 1e-5, double? momentum = 0.1, double rMax = 3.0, double dMax = 5.0, bool affine = true, int channelAxis = 1)
    : BatchRenormBase(numFeatures, eps, momentum, rMax, dMax, affine, channelAxis)
{
    private protected override void CheckInputRank(Tensor input) => BatchNormRank.Check(input, this, 2, 3, "2-D input (N, C) or 3-D input " + Layout("(N, C, L)", "(N, L, C)"));
}

/// <summary>Batch Renormalization over (N, C, H, W) input (channels last: (N, H, W, C)); see <see cref="BatchRenormBase"/>.</summary>
/// <param name="numFeatures">C.</param>
/// <param name="eps">Added to the variances inside the square roots; default 1e-5.</param>
/// <param name="momentum">Weight of the new batch statistic in the running average (PyTorch's convention, default 0.1); null = cumulative average.</param>
/// <param name="rMax">Clip of r to [1/rMax, rMax], at least 1; default 3 (the paper's final value).</param>
/// <param name="dMax">Clip of d to [−dMax, dMax], at least 0; default 5 (the paper's final value).</param>
/// <param name="affine">Learn γ (ones) and β (zeros).</param>
/// <param name="channelAxis">1 (channels first) or -1 (channels last).</param>
public sealed class BatchRenorm2d(int numFeatures, double eps = 1e-5, double? momentum = 0.1, double rMax = 3.0, double dMax = 5.0, bool affine = true, int channelAxis = 1)
    : BatchRenormBase(numFeatures, eps, momentum, rMax, dMax, affine, channelAxis)
{
    private protected override void CheckInputRank(Tensor input) => BatchNormRank.Check(input, this, 4, 4, "4-D input " + Layout("(N, C, H, W)", "(N, H, W, C)"));
}

/// <summary>Batch Renormalization over (N, C, D, H, W) input (channels last: (N, D, H, W, C)); see <see cref="BatchRenormBase"/>.</summary>
/// <param name="numFeatures">C.</param>
/// <param name="eps">Added to the variances inside the square roots; default 1e-5.</param>
/// <param name="momentum">Weight of the new batch statistic in the running average (PyTorch's convention, default 0.1); null = cumulative average.</param>
/// <param name="rMax">Clip of r to [1/rMax, rMax], at least 1; default 3 (the paper's final value).</param>
/// <param name="dMax">Clip of d to [−dMax, dMax], at least 0; default 5 (the paper's final value).</param>
/// <param name="affine">Learn γ (ones) and β (zeros).</param>
/// <param name="channelAxis">1 (channels first) or -1 (channels last).</param>
public sealed class BatchRenorm3d(int numFeatures, double eps = 1e-5, double? momentum = 0.1, double rMax = 3.0, double dMax = 5.0, bool affine = true, int channelAxis = 1)
    : BatchRenormBase(numFeatures, eps, momentum, rMax, dMax, affine, channelAxis)
{
    private protected override void CheckInputRank(Tensor input) => BatchNormRank.Check(input, this, 5, 5, "5-D input " + Layout("(N, C, D, H, W)", "(N, D, H, W, C)"));
}

/// <summary>The rank check shared by the batch-norm variants: one message format for every layer.</summary>
internal static class BatchNormRank
{
    /// <summary>Throws <see cref="ArgumentException"/> naming the expected layout and the actual shape unless minRank ≤ rank ≤ maxRank.</summary>
    public static void Check(Tensor input, Module layer, int minRank, int maxRank, string expected)
    {
        if (input.Rank < minRank || input.Rank > maxRank)
        {
            throw new ArgumentException(
                $"{layer.GetType().Name} expected {expected}, got {input.Rank}-D input of shape {ShapeUtil.Format(input.ShapeSpan)}.", nameof(input));
        }
    }
}
