using NormSharp.Kernels;

namespace NormSharp.Functional;

public static partial class F
{
    /// <summary>torch.finfo(torch.float32).eps = 2⁻²³, PyTorch's RMSNorm eps when none is given.</summary>
    internal const double FloatMachineEpsilon = 1.1920928955078125e-07;

    /// <summary>
    /// Batch normalization (PyTorch's <c>F.batch_norm</c>), per channel over the batch and spatial dimensions:
    /// y = (x − mean) / √(var + eps) · weight + bias.
    /// </summary>
    /// <remarks>
    /// <para>Shapes: input (N, C, *) with the channel on <paramref name="channelAxis"/> (1 by default; -1 for
    /// channels-last data (N, *, C)); weight, bias, runningMean, runningVar [C] or null.</para>
    /// <para><paramref name="training"/> true: mean and biased variance of this batch normalize; when the running
    /// statistics are given they are updated in place, running = (1 − momentum) · running + momentum · batch,
    /// with the unbiased variance (× M / (M − 1), M values per channel). This momentum weighs the NEW value
    /// (PyTorch's convention, default 0.1); Keras' momentum 0.99 weighs the OLD one: Keras 0.99 = PyTorch 0.01.</para>
    /// <para><paramref name="training"/> false: the running statistics normalize (they must be given); nothing is updated.</para>
    /// <para>Backward: the closed form of docs/derivations/batchnorm.md for input, weight and bias; the running
    /// statistics get no gradient.</para>
    /// </remarks>
    /// <exception cref="ArgumentException">Rank below 2, a channel axis that is out of range or is the batch axis,
    /// a parameter or statistic of the wrong length, training with one value per channel, or evaluation without running statistics.</exception>
    public static Tensor BatchNorm(
        Tensor input, Tensor? runningMean, Tensor? runningVar, Tensor? weight = null, Tensor? bias = null,
        bool training = false, double momentum = 0.1, double eps = 1e-5, int channelAxis = 1)
        => BatchNorm(input, runningMean, runningVar, weight, bias, training, momentum, eps, channelAxis, relu: false);

    /// <summary><see cref="BatchNorm(Tensor, Tensor?, Tensor?, Tensor?, Tensor?, bool, double, double, int)"/>, followed by a fused ReLU when <paramref name="relu"/> is set.</summary>
    internal static Tensor BatchNorm(
        Tensor input, Tensor? runningMean, Tensor? runningVar, Tensor? weight, Tensor? bias,
        bool training, double momentum, double eps, int channelAxis, bool relu)
    {
        ArgumentNullException.ThrowIfNull(input);
        NormChecks.CheckEps(eps, "BatchNorm");
        if (input.Rank < 2)
        {
            throw new ArgumentException(
                $"BatchNorm expected input with at least 2 dimensions (N, C, *), got {input.Rank}-D input of shape {ShapeUtil.Format(input.ShapeSpan)}.", nameof(input));
        }
        int axis = ResolveChannelAxis(input, channelAxis, "BatchNorm");
        var (outer, channels, inner) = ChannelView(input, axis);
        CheckPerChannel(weight, channels, axis, input, "weight", "BatchNorm");
        CheckPerChannel(bias, channels, axis, input, "bias", "BatchNorm");
        CheckPerChannel(runningMean, channels, axis, input, "runningMean", "BatchNorm");
        CheckPerChannel(runningVar, channels, axis, input, "runningVar", "BatchNorm");
        if ((runningMean is null) != (runningVar is null))
        {
            throw new ArgumentException(
                $"BatchNorm needs both runningMean and runningVar or neither, got runningMean {(runningMean is null ? "null" : "given")} and runningVar {(runningVar is null ? "null" : "given")}.");
        }
        if (training)
        {
            VerifyValuesPerChannel(input, (long)outer * inner);
        }
        else if (runningMean is null)
        {
            throw new ArgumentException(
                "BatchNorm with training: false normalizes with the running statistics, but runningMean and runningVar are null; pass them, or training: true to use batch statistics.");
        }
        return new BatchNormFunction(relu).Forward(input, weight, bias, runningMean, runningVar, training, momentum, eps, outer, channels, inner);
    }

    /// <summary>
    /// Instance normalization (PyTorch's <c>F.instance_norm</c>): each channel of each sample normalized over its
    /// spatial elements, y = (x − mean[n, c]) / √(var[n, c] + eps) · weight[c] + bias[c].
    /// </summary>
    /// <remarks>
    /// <para>Shapes: input (N, C, *) batched; weight, bias, runningMean, runningVar [C] or null.</para>
    /// <para><paramref name="useInputStats"/> true: per-instance statistics normalize; given running statistics move
    /// toward the batch average of the instance statistics (unbiased variance), with PyTorch's momentum on the new
    /// value, exactly as ATen does by viewing the input as (1, N·C, *) and averaging the N updated copies.
    /// <paramref name="useInputStats"/> false: the running statistics normalize, as in batch norm's evaluation mode.</para>
    /// </remarks>
    /// <exception cref="ArgumentException">Rank below 2, wrong parameter lengths, one spatial element with
    /// <paramref name="useInputStats"/>, or no running statistics without it.</exception>
    public static Tensor InstanceNorm(
        Tensor input, Tensor? runningMean = null, Tensor? runningVar = null, Tensor? weight = null, Tensor? bias = null,
        bool useInputStats = true, double momentum = 0.1, double eps = 1e-5)
    {
        ArgumentNullException.ThrowIfNull(input);
        NormChecks.CheckEps(eps, "InstanceNorm");
        if (input.Rank < 2)
        {
            throw new ArgumentException(
                $"InstanceNorm expected input with at least 2 dimensions (N, C, *), got {input.Rank}-D input of shape {ShapeUtil.Format(input.ShapeSpan)}.", nameof(input));
        }
        var (batch, channels, spatial) = ChannelView(input, 1);
        CheckPerChannel(weight, channels, 1, input, "weight", "InstanceNorm");
        CheckPerChannel(bias, channels, 1, input, "bias", "InstanceNorm");
        CheckPerChannel(runningMean, channels, 1, input, "runningMean", "InstanceNorm");
        CheckPerChannel(runningVar, channels, 1, input, "runningVar", "InstanceNorm");
        if ((runningMean is null) != (runningVar is null))
        {
            throw new ArgumentException("InstanceNorm needs both runningMean and runningVar or neither.");
        }
        if (!useInputStats)
        {
            if (runningMean is null)
            {
                throw new ArgumentException(
                    "InstanceNorm with useInputStats: false normalizes with the running statistics, but runningMean and runningVar are null.");
            }
            return new BatchNormFunction().Forward(input, weight, bias, runningMean, runningVar, false, 0, eps, batch, channels, spatial);
        }
        if (spatial == 1)
        {
            throw new ArgumentException(
                $"Expected more than 1 spatial element when training, got input size {ShapeUtil.Format(input.ShapeSpan)}.", nameof(input));
        }
        var function = new RowNormFunction(NormStatistics.MeanAndVariance, "InstanceNorm");
        var output = function.Forward(input, weight, bias, eps, batch * channels, spatial, channels, spatial);
        if (runningMean is not null && batch > 0 && spatial > 0)
        {
            // ATen updates N repeated copies of the running statistics, one per sample, and averages them;
            // the update is linear, so that equals one update with the batch average of the instance statistics.
            var averageMean = new double[channels];
            var averageVariance = new double[channels];
            for (int n = 0; n < batch; n++)
            {
                for (int c = 0; c < channels; c++)
                {
                    averageMean[c] += function.Mean[n * channels + c] / batch;
                    averageVariance[c] += function.Variance[n * channels + c] / batch;
                }
            }
            RunningStatistics.Update(averageMean, averageVariance, spatial, momentum, runningMean.AsSpan(), runningVar!.AsSpan());
        }
        return output;
    }

    /// <summary>
    /// Layer normalization (PyTorch's <c>F.layer_norm</c>) over the last <c>normalizedShape.Length</c> dimensions:
    /// y = (x − mean) / √(var + eps) · weight + bias, with the biased variance and eps inside the square root.
    /// </summary>
    /// <remarks>Shapes: input [*, normalizedShape...]; weight and bias have shape normalizedShape, or are null.</remarks>
    /// <exception cref="ArgumentException">The input's trailing dimensions are not normalizedShape, or weight/bias have another shape.</exception>
    public static Tensor LayerNorm(Tensor input, int[] normalizedShape, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(normalizedShape);
        NormChecks.CheckEps(eps, "LayerNorm");
        var (rows, rowLength) = TrailingView(input, normalizedShape, "LayerNorm");
        CheckShape(weight, normalizedShape, "weight", "LayerNorm");
        CheckShape(bias, normalizedShape, "bias", "LayerNorm");
        return new RowNormFunction(NormStatistics.MeanAndVariance, "LayerNorm")
            .Forward(input, weight, bias, eps, rows, rowLength, rowLength, 1);
    }

    /// <summary>
    /// Group normalization (PyTorch's <c>F.group_norm</c>): the C channels are split into
    /// <paramref name="numGroups"/> groups of C / numGroups consecutive channels, and each (sample, group) is normalized
    /// over its channels and spatial elements; then y = x̂ · weight[c] + bias[c] per channel.
    /// </summary>
    /// <remarks>Shapes: input (N, C, *); weight and bias [C] or null. numGroups = 1 is LayerNorm over (C, *)
    /// (with per-channel affine); numGroups = C is InstanceNorm.</remarks>
    /// <exception cref="ArgumentException">Rank below 2, numGroups not dividing C, wrong parameter lengths, or
    /// one value per group (PyTorch's check on N · C / numGroups · ∏ spatial).</exception>
    public static Tensor GroupNorm(Tensor input, int numGroups, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        ArgumentNullException.ThrowIfNull(input);
        NormChecks.CheckEps(eps, "GroupNorm");
        if (input.Rank < 2)
        {
            throw new ArgumentException(
                $"GroupNorm expected input with at least 2 dimensions (N, C, *), got {input.Rank}-D input of shape {ShapeUtil.Format(input.ShapeSpan)}.", nameof(input));
        }
        if (numGroups <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(numGroups), numGroups, "GroupNorm needs numGroups >= 1.");
        }
        var (batch, channels, spatial) = ChannelView(input, 1);
        if (channels % numGroups != 0)
        {
            throw new ArgumentException(
                $"GroupNorm expected the number of channels to be divisible by numGroups ({numGroups}), got {channels} channels in input of shape {ShapeUtil.Format(input.ShapeSpan)}.", nameof(input));
        }
        CheckPerChannel(weight, channels, 1, input, "weight", "GroupNorm");
        CheckPerChannel(bias, channels, 1, input, "bias", "GroupNorm");
        int groupChannels = channels / numGroups;
        // PyTorch verifies the view (N · C/G, G, *): one value per group would normalize to 0 exactly.
        VerifyValuesPerChannel(input, (long)batch * groupChannels * spatial);
        return new RowNormFunction(NormStatistics.MeanAndVariance, "GroupNorm")
            .Forward(input, weight, bias, eps, batch * numGroups, groupChannels * spatial, channels, spatial);
    }

    /// <summary>
    /// Root mean square layer normalization (PyTorch's <c>F.rms_norm</c>) over the last
    /// <c>normalizedShape.Length</c> dimensions: y = x / √(mean(x²) + eps) · weight. No centering, no bias.
    /// </summary>
    /// <remarks>Shapes: input [*, normalizedShape...]; weight has shape normalizedShape, or is null.
    /// eps null means torch.finfo(float32).eps = 2⁻²³ ≈ 1.19e-7, as PyTorch.</remarks>
    /// <exception cref="ArgumentException">The input's trailing dimensions are not normalizedShape, or weight has another shape.</exception>
    public static Tensor RmsNorm(Tensor input, int[] normalizedShape, Tensor? weight = null, double? eps = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(normalizedShape);
        double epsilon = eps ?? FloatMachineEpsilon;
        NormChecks.CheckEps(epsilon, "RMSNorm");
        var (rows, rowLength) = TrailingView(input, normalizedShape, "RMSNorm");
        CheckShape(weight, normalizedShape, "weight", "RMSNorm");
        return new RowNormFunction(NormStatistics.MeanSquare, "RMSNorm")
            .Forward(input, weight, null, epsilon, rows, rowLength, rowLength, 1);
    }

    /// <summary>The channel axis as a non-negative index in [1, rank − 1].</summary>
    internal static int ResolveChannelAxis(Tensor input, int channelAxis, string layer)
    {
        int rank = input.Rank;
        int axis = channelAxis < 0 ? channelAxis + rank : channelAxis;
        if (axis < 1 || axis >= rank)
        {
            throw new ArgumentException(
                $"{layer}: channelAxis {channelAxis} is out of range for {rank}-D input of shape {ShapeUtil.Format(input.ShapeSpan)}; expected 1..{rank - 1} or -{rank - 1}..-1 (axis 0 is the batch).",
                nameof(channelAxis));
        }
        return axis;
    }

    /// <summary>The [outer, channels, inner] view around <paramref name="axis"/>.</summary>
    internal static (int Outer, int Channels, int Inner) ChannelView(Tensor input, int axis)
    {
        var shape = input.ShapeSpan;
        return (ShapeUtil.Product(shape, 0, axis), shape[axis], ShapeUtil.Product(shape, axis + 1, shape.Length));
    }

    /// <summary>PyTorch's _verify_batch_size: normalizing one value gives 0 whatever it is, so training refuses it.</summary>
    internal static void VerifyValuesPerChannel(Tensor input, long valuesPerChannel)
    {
        if (valuesPerChannel == 1)
        {
            throw new ArgumentException(
                $"Expected more than 1 value per channel when training, got input size {ShapeUtil.Format(input.ShapeSpan)}.", nameof(input));
        }
    }

    private static (int Rows, int RowLength) TrailingView(Tensor input, int[] normalizedShape, string layer)
    {
        var shape = input.ShapeSpan;
        int k = normalizedShape.Length;
        if (k == 0)
        {
            // PyTorch refuses it too: there is nothing to normalize over.
            throw new ArgumentException(
                $"{layer} expected normalizedShape to be at least 1-dimensional, i.e., containing at least one element, but got normalizedShape []; input shape {ShapeUtil.Format(shape)}.", nameof(normalizedShape));
        }
        if (shape.Length < k || !shape[(shape.Length - k)..].SequenceEqual(normalizedShape))
        {
            string expected = "[*, " + string.Join(", ", normalizedShape) + "]";
            throw new ArgumentException(
                $"{layer} expected input with shape {expected} (normalizedShape {ShapeUtil.Format(normalizedShape)}), got input of shape {ShapeUtil.Format(shape)}.", nameof(input));
        }
        return (ShapeUtil.Product(shape, 0, shape.Length - k), ShapeUtil.Product(shape, shape.Length - k, shape.Length));
    }

    private static void CheckPerChannel(Tensor? tensor, int channels, int axis, Tensor input, string name, string layer)
    {
        if (tensor is not null && (tensor.Rank != 1 || tensor.Size(0) != channels))
        {
            throw new ArgumentException(
                $"{layer} {name} must have shape [{channels}] (the {channels} channels along axis {axis} of input shape {ShapeUtil.Format(input.ShapeSpan)}), got {ShapeUtil.Format(tensor.ShapeSpan)}.", name);
        }
    }

    private static void CheckShape(Tensor? tensor, int[] expected, string name, string layer)
    {
        if (tensor is not null && !tensor.ShapeSpan.SequenceEqual(expected))
        {
            throw new ArgumentException(
                $"{layer} {name} must have shape {ShapeUtil.Format(expected)} (normalizedShape), got {ShapeUtil.Format(tensor.ShapeSpan)}.", name);
        }
    }
}
