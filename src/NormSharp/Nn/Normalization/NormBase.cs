using System.Globalization;

namespace NormSharp.Nn;

/// <summary>
/// Base of the layers with per-channel affine parameters and running statistics: the BatchNorm and
/// InstanceNorm families (PyTorch's <c>_NormBase</c>). It owns the parameters <c>weight</c> (ones) and
/// <c>bias</c> (zeros), shape [numFeatures], null when <c>affine</c> is false; the buffers
/// <c>running_mean</c> (zeros) and <c>running_var</c> (ones), shape [numFeatures], null when
/// <c>trackRunningStats</c> is false; and the count <see cref="NumBatchesTracked"/>.
/// </summary>
/// <remarks>
/// <para>The running statistics move after every training forward by
/// running = (1 − momentum) · running + momentum · batchStatistic, with the unbiased batch variance.</para>
/// <para><b>Two momentum conventions — do not mix them up when porting.</b> The same update is written
/// with the weight on opposite terms:</para>
/// <list type="table">
/// <listheader><term>framework</term><description>update, default</description></listheader>
/// <item><term>PyTorch, NormSharp</term><description>running = (1 − m) · running + m · new, m = 0.1 (weight on the NEW value)</description></item>
/// <item><term>Keras / TensorFlow</term><description>running = m · running + (1 − m) · new, m = 0.99 (weight on the OLD value)</description></item>
/// </list>
/// <para>So Keras momentum 0.99 is NormSharp momentum 0.01, and PyTorch's default 0.1 is Keras 0.9. Passing
/// Keras' 0.99 here makes the running statistics follow almost only the last batch. This momentum is not
/// the optimizer's momentum either. <c>momentum: null</c> is PyTorch's <c>momentum=None</c>: a cumulative
/// (equal-weight) average, factor 1 / <see cref="NumBatchesTracked"/>.</para>
/// </remarks>
public abstract class NormBase : Module
{
    /// <summary>Creates the parameters and buffers; arguments as in PyTorch, plus the channel axis.</summary>
    /// <param name="numFeatures">C, the number of channels (features) of the expected input.</param>
    /// <param name="eps">Added to the variance inside the square root; default 1e-5.</param>
    /// <param name="momentum">Weight of the new batch statistic in the running average (PyTorch's convention, default 0.1),
    /// or null for a cumulative average.</param>
    /// <param name="affine">Whether to learn weight (γ) and bias (β).</param>
    /// <param name="trackRunningStats">Whether to keep running statistics for evaluation mode.</param>
    /// <param name="channelAxis">Axis of the channels: 1 (channels first, PyTorch) or -1 (channels last, Keras' axis=-1).</param>
    /// <exception cref="ArgumentOutOfRangeException">numFeatures negative, eps negative or not finite, momentum outside [0, 1], or channelAxis 0 (the batch axis).</exception>
    protected NormBase(int numFeatures, double eps, double? momentum, bool affine, bool trackRunningStats, int channelAxis)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(numFeatures);
        Kernels.NormChecks.CheckEps(eps, GetType().Name);
        if (channelAxis == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(channelAxis), channelAxis,
                "channelAxis 0 is the batch axis; use 1 for channels-first (N, C, ...) or -1 for channels-last (N, ..., C) input.");
        }
        NumFeatures = numFeatures;
        Eps = eps;
        Momentum = momentum;
        Affine = affine;
        TrackRunningStats = trackRunningStats;
        ChannelAxis = channelAxis;
        Weight = RegisterParameter("weight", affine ? new Parameter(Tensor.Ones(numFeatures)) : null);
        Bias = RegisterParameter("bias", affine ? new Parameter(Tensor.Zeros(numFeatures)) : null);
        RunningMean = RegisterBuffer("running_mean", trackRunningStats ? Tensor.Zeros(numFeatures) : null);
        RunningVar = RegisterBuffer("running_var", trackRunningStats ? Tensor.Ones(numFeatures) : null);
        if (trackRunningStats)
        {
            // State key num_batches_tracked, an exact int64 scalar in state dicts and checkpoints (PyTorch's buffer).
            RegisterCounter("num_batches_tracked", () => NumBatchesTracked, value => NumBatchesTracked = value);
        }
    }

    /// <summary>C, the number of channels the layer expects.</summary>
    public int NumFeatures { get; }

    /// <summary>Added to the variance inside the square root.</summary>
    public double Eps { get; }

    /// <summary>
    /// Weight of the new statistic in the running average (PyTorch's convention); null = cumulative average. Settable, as
    /// PyTorch's attribute (<see cref="BatchNormStatistics.Update"/> sets it to null for its pass and restores it).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A value outside [0, 1].</exception>
    public double? Momentum
    {
        get;
        set
        {
            if (value is double m && !(m >= 0 && m <= 1))
            {
                throw new ArgumentOutOfRangeException(nameof(Momentum), value,
                    "momentum must be in [0, 1] or null; it weighs the new batch statistic (PyTorch's convention, default 0.1; Keras' 0.99 is 0.01 here).");
            }
            field = value;
        }
    }

    /// <summary>Whether the layer has the learnable weight and bias.</summary>
    public bool Affine { get; }

    /// <summary>Whether the layer keeps running statistics.</summary>
    public bool TrackRunningStats { get; }

    /// <summary>Axis of the channels in the input (1 = channels first; negative counts from the end).</summary>
    public int ChannelAxis { get; }

    /// <summary>γ, shape [NumFeatures], initialized to ones; null when <see cref="Affine"/> is false.</summary>
    public Parameter? Weight { get; private protected set; }

    /// <summary>β, shape [NumFeatures], initialized to zeros; null when <see cref="Affine"/> is false.</summary>
    public Parameter? Bias { get; private protected set; }

    /// <summary>Running mean (buffer <c>running_mean</c>), shape [NumFeatures], starts at 0; null when not tracked.</summary>
    public Tensor? RunningMean { get; }

    /// <summary>Running unbiased variance (buffer <c>running_var</c>), shape [NumFeatures], starts at 1; null when not tracked.</summary>
    public Tensor? RunningVar { get; }

    /// <summary>
    /// The number of training forwards that updated the running statistics (PyTorch's <c>num_batches_tracked</c>);
    /// with <c>momentum: null</c> the update factor is 1 / NumBatchesTracked. Settable so that checkpoints can restore it.
    /// </summary>
    public long NumBatchesTracked { get; set; }

    /// <summary>Running mean to 0, running variance to 1, <see cref="NumBatchesTracked"/> to 0 (no-op when not tracked).</summary>
    public void ResetRunningStats()
    {
        RunningMean?.AsSpan().Clear();
        RunningVar?.AsSpan().Fill(1f);
        NumBatchesTracked = 0;
    }

    /// <summary><see cref="ResetRunningStats"/>, then weight to ones and bias to zeros.</summary>
    public void ResetParameters()
    {
        ResetRunningStats();
        Weight?.AsSpan().Fill(1f);
        Bias?.AsSpan().Clear();
    }

    /// <summary>Throws unless <paramref name="input"/>'s size along <paramref name="axis"/> is <see cref="NumFeatures"/>.</summary>
    private protected void CheckChannels(Tensor input, int axis)
    {
        int channels = input.Size(axis);
        if (channels != NumFeatures)
        {
            throw new ArgumentException(
                $"{GetType().Name} expected {NumFeatures} channels (numFeatures) along axis {axis}, got {channels} in input of shape {ShapeUtil.Format(input.ShapeSpan)}.{ChannelAxisHint(input, axis)}",
                nameof(input));
        }
    }

    /// <summary>A porting hint when the channels sit on the other end of the input (Keras' channels-last layout or back).</summary>
    private string ChannelAxisHint(Tensor input, int axis)
    {
        int last = input.Rank - 1;
        if (axis == 1 && last > 1 && input.Size(last) == NumFeatures)
        {
            return $" The last axis has {NumFeatures}: for channels-last input (Keras' axis=-1, ONNX NHWC) create the layer with channelAxis: -1.";
        }
        return axis == last && last > 1 && input.Size(1) == NumFeatures
            ? $" Axis 1 has {NumFeatures}: for channels-first input (N, C, ...) create the layer with channelAxis: 1."
            : "";
    }

    /// <inheritdoc/>
    public override string ToString()
    {
        var momentum = Momentum is double m ? m.ToString(CultureInfo.InvariantCulture) : "null";
        var axis = ChannelAxis == 1 ? "" : $", channelAxis: {ChannelAxis}";
        return $"{GetType().Name}({NumFeatures}, eps: {Eps.ToString(CultureInfo.InvariantCulture)}, momentum: {momentum}, affine: {Affine}, trackRunningStats: {TrackRunningStats}{axis})";
    }
}
