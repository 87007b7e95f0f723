using NormSharp.Functional;

namespace NormSharp.Nn;

/// <summary>
/// Batch normalization (Ioffe and Szegedy, 2015), PyTorch's <c>_BatchNorm</c>: per channel,
/// y = (x − E[x]) / √(Var[x] + eps) · γ + β, the statistics taken over the batch and spatial dimensions.
/// </summary>
/// <remarks>
/// <para><b>Training</b> (<see cref="Module.Training"/>): the batch mean and the <i>biased</i> batch variance
/// normalize; when running statistics are tracked they move by
/// running = (1 − momentum) · running + momentum · batch, using the <i>unbiased</i> variance (× M/(M − 1)
/// for M values per channel), and <see cref="NormBase.NumBatchesTracked"/> counts the step. With
/// <c>momentum: null</c> the factor is 1 / NumBatchesTracked, a cumulative average. A batch with one value per
/// channel is refused (<see cref="ArgumentException"/>), as in PyTorch.</para>
/// <para><b>Evaluation</b> (<see cref="Module.Eval"/>): the running statistics normalize when tracked, the batch
/// statistics otherwise; nothing is updated. A layer in evaluation mode inside a model in training mode freezes its
/// statistics while γ and β still get gradients (call <c>Eval()</c> on the layer after <c>Train()</c> on the model).</para>
/// <para>Momentum: PyTorch's convention (weight on the new value, default 0.1), not Keras' (weight on the old value,
/// default 0.99); see <see cref="NormBase"/>.</para>
/// <para>Channel axis: 1 for channels-first input (N, C, ...), -1 for channels-last input (N, ..., C).</para>
/// <para>Backward: closed form in one fused op (docs/derivations/batchnorm.md).</para>
/// </remarks>
public abstract class BatchNormBase : NormBase
{
    /// <summary>Creates the layer; see <see cref="NormBase"/> for the arguments and PyTorch's defaults.</summary>
    protected BatchNormBase(int numFeatures, double eps, double? momentum, bool affine, bool trackRunningStats, int channelAxis)
        : base(numFeatures, eps, momentum, affine, trackRunningStats, channelAxis)
    {
    }

    /// <summary>
    /// When true, the layer normalizes with its running statistics and never updates them, in training mode too, while
    /// γ and β still learn (torchvision's FrozenBatchNorm2d behaviour, but switchable). Unlike PyTorch's idiom of calling
    /// <c>Eval()</c> on the layer, which a later <c>model.Train()</c> silently undoes (pytorch#66073), this flag survives
    /// <see cref="Module.Train"/>. Default false.
    /// </summary>
    /// <exception cref="InvalidOperationException">Set to true on a layer without running statistics (trackRunningStats: false).</exception>
    public bool FreezeStatistics
    {
        get;
        set
        {
            if (value && RunningMean is null)
            {
                throw new InvalidOperationException(
                    $"{GetType().Name}.FreezeStatistics needs running statistics to normalize with, but the layer was created with trackRunningStats: false.");
            }
            field = value;
        }
    }

    /// <summary>Throws <see cref="ArgumentException"/> unless the input has a rank this layer accepts.</summary>
    private protected abstract void CheckInputRank(Tensor input);

    /// <summary>The accepted shapes for error messages, e.g. "4-D input (N, C, H, W)".</summary>
    private protected string Layout(string channelsFirst, string channelsLast) => ChannelAxis == 1 ? channelsFirst : channelsLast;

    /// <summary>Normalizes <paramref name="input"/>; in training mode also updates the running statistics.</summary>
    /// <exception cref="ArgumentException">Wrong rank, channel count other than NumFeatures, or one value per channel in training.</exception>
    public override Tensor Forward(Tensor input) => Forward(input, relu: false);

    /// <summary>
    /// relu(Forward(input)) in one fused kernel: the same values and gradients, one pass less over memory each way.
    /// <see cref="Sequential"/> uses it when a <see cref="ReLU"/> follows a batch-norm layer.
    /// </summary>
    public Tensor ForwardRelu(Tensor input) => Forward(input, relu: true);

    private Tensor Forward(Tensor input, bool relu)
    {
        ArgumentNullException.ThrowIfNull(input);
        CheckInputRank(input);
        int axis = F.ResolveChannelAxis(input, ChannelAxis, GetType().Name);
        CheckChannels(input, axis);
        bool useBatchStatistics = (Training && !FreezeStatistics) || RunningMean is null;
        if (!useBatchStatistics)
        {
            return F.BatchNorm(input, RunningMean, RunningVar, Weight, Bias, false, 0, Eps, axis, relu);
        }
        // Checked here too so that a refused batch does not count in NumBatchesTracked.
        var (outer, _, inner) = F.ChannelView(input, axis);
        F.VerifyValuesPerChannel(input, (long)outer * inner);
        return ForwardBatchStatistics(input, axis, relu);
    }

    /// <summary>
    /// The forward with batch statistics (training, or evaluation without running statistics) on validated input;
    /// the running statistics, when tracked and in training, move by <see cref="NextUpdateFactor"/>.
    /// BatchRenorm and GhostBatchNorm replace it.
    /// </summary>
    private protected virtual Tensor ForwardBatchStatistics(Tensor input, int axis, bool relu)
    {
        double factor = Training && TrackRunningStats ? NextUpdateFactor() : 0;
        return F.BatchNorm(input, RunningMean, RunningVar, Weight, Bias, true, factor, Eps, axis, relu);
    }

    /// <summary>Counts one more tracked batch and returns its weight in the running average: momentum, or 1 / NumBatchesTracked when momentum is null.</summary>
    private protected double NextUpdateFactor()
    {
        NumBatchesTracked++;
        return Momentum ?? 1.0 / NumBatchesTracked;
    }
}

/// <summary>
/// Batch normalization over a 2-D input (N, C) or a 3-D input (N, C, L) (PyTorch's <c>nn.BatchNorm1d</c>);
/// with channelAxis -1 the 3-D input is (N, L, C). Statistics per channel over N (and L).
/// </summary>
/// <remarks>Defaults as PyTorch: eps 1e-5, momentum 0.1 (on the new value; Keras' 0.99 is 0.01 here), affine,
/// trackRunningStats. Formula, modes and momentum conventions: <see cref="BatchNormBase"/> and <see cref="NormBase"/>.</remarks>
/// <param name="numFeatures">C.</param>
/// <param name="eps">Added to the variance inside the square root.</param>
/// <param name="momentum">Weight of the new batch statistic in the running average; null = cumulative average.</param>
/// <param name="affine">Learn γ (ones) and β (zeros).</param>
/// <param name="trackRunningStats">Keep running statistics for evaluation.</param>
/// <param name="channelAxis">1 (channels first) or -1 (channels last); the same for (N, C) input.</param>
public sealed partial class BatchNorm1d(int numFeatures, double eps = 1e-5, double? momentum = 0.1, bool affine = true, bool trackRunningStats = true, int channelAxis = 1)
    : BatchNormBase(numFeatures, eps, momentum, affine, trackRunningStats, channelAxis)
{
    private protected override void CheckInputRank(Tensor input)
    {
        if (input.Rank != 2 && input.Rank != 3)
        {
            throw new ArgumentException(
                $"BatchNorm1d expected 2-D input (N, C) or 3-D input {Layout("(N, C, L)", "(N, L, C)")}, got {input.Rank}-D input of shape {ShapeUtil.Format(input.ShapeSpan)}.",
                nameof(input));
        }
    }
}

/// <summary>
/// Batch normalization over a 4-D input (N, C, H, W) (PyTorch's <c>nn.BatchNorm2d</c>); with channelAxis -1 the
/// input is (N, H, W, C) (Keras' <c>BatchNormalization(axis=-1)</c>). Statistics per channel over N, H, W.
/// </summary>
/// <remarks>Defaults as PyTorch: eps 1e-5, momentum 0.1 (on the new value; Keras' 0.99 is 0.01 here), affine,
/// trackRunningStats. Formula, modes and momentum conventions: <see cref="BatchNormBase"/> and <see cref="NormBase"/>.</remarks>
/// <param name="numFeatures">C.</param>
/// <param name="eps">Added to the variance inside the square root.</param>
/// <param name="momentum">Weight of the new batch statistic in the running average; null = cumulative average.</param>
/// <param name="affine">Learn γ (ones) and β (zeros).</param>
/// <param name="trackRunningStats">Keep running statistics for evaluation.</param>
/// <param name="channelAxis">1 (channels first) or -1 (channels last).</param>
public sealed class BatchNorm2d(int numFeatures, double eps = 1e-5, double? momentum = 0.1, bool affine = true, bool trackRunningStats = true, int channelAxis = 1)
    : BatchNormBase(numFeatures, eps, momentum, affine, trackRunningStats, channelAxis)
{
    private protected override void CheckInputRank(Tensor input)
    {
        if (input.Rank != 4)
        {
            throw new ArgumentException(
                $"BatchNorm2d expected 4-D input {Layout("(N, C, H, W)", "(N, H, W, C)")}, got {input.Rank}-D input of shape {ShapeUtil.Format(input.ShapeSpan)}.",
                nameof(input));
        }
    }
}

/// <summary>
/// Batch normalization over a 5-D input (N, C, D, H, W) (PyTorch's <c>nn.BatchNorm3d</c>); with channelAxis -1 the
/// input is (N, D, H, W, C). Statistics per channel over N, D, H, W.
/// </summary>
/// <remarks>Defaults as PyTorch: eps 1e-5, momentum 0.1 (on the new value; Keras' 0.99 is 0.01 here), affine,
/// trackRunningStats. Formula, modes and momentum conventions: <see cref="BatchNormBase"/> and <see cref="NormBase"/>.</remarks>
/// <param name="numFeatures">C.</param>
/// <param name="eps">Added to the variance inside the square root.</param>
/// <param name="momentum">Weight of the new batch statistic in the running average; null = cumulative average.</param>
/// <param name="affine">Learn γ (ones) and β (zeros).</param>
/// <param name="trackRunningStats">Keep running statistics for evaluation.</param>
/// <param name="channelAxis">1 (channels first) or -1 (channels last).</param>
public sealed class BatchNorm3d(int numFeatures, double eps = 1e-5, double? momentum = 0.1, bool affine = true, bool trackRunningStats = true, int channelAxis = 1)
    : BatchNormBase(numFeatures, eps, momentum, affine, trackRunningStats, channelAxis)
{
    private protected override void CheckInputRank(Tensor input)
    {
        if (input.Rank != 5)
        {
            throw new ArgumentException(
                $"BatchNorm3d expected 5-D input {Layout("(N, C, D, H, W)", "(N, D, H, W, C)")}, got {input.Rank}-D input of shape {ShapeUtil.Format(input.ShapeSpan)}.",
                nameof(input));
        }
    }
}
