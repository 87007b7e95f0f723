namespace NormSharp.Nn;

/// <summary>
/// Folding a batch norm in evaluation mode into the convolution or linear layer before it (PyTorch's
/// <c>torch.nn.utils.fusion</c>): at inference batch norm is a per-channel affine map, so the pair is one layer with
/// rescaled weights and a new bias, and the model runs one pass less over memory per pair.
/// </summary>
/// <remarks>
/// <para>With s = γ / √(running_var + eps) per output channel (γ = 1 without affine, β = 0, and b = 0 for a layer
/// without bias): W' = W · s (each output channel's filter or row scaled) and b' = (b − running_mean) · s + β. The
/// fused weights are computed in double and rounded once to float. The fused layer is in evaluation mode and equals
/// the pair in evaluation mode up to float rounding; it does not equal the pair in training mode, where batch norm uses
/// batch statistics.</para>
/// <para>Any <see cref="BatchNormBase"/> evaluates as batch norm, so BatchRenorm and GhostBatchNorm fold too, as does a
/// layer with <see cref="BatchNormBase.FreezeStatistics"/> set even in training mode; <see cref="FrozenBatchNorm2d"/>
/// folds into a convolution.</para>
/// </remarks>
public static class Fusion
{
    /// <summary>
    /// <c>fuse_conv_bn_eval</c>: a new <see cref="Conv2d"/> (same geometry, with bias) computing bn(conv(x)) of the
    /// layers in evaluation mode. The arguments are not changed.
    /// </summary>
    /// <exception cref="ArgumentException">A layer is in training mode (and the batch norm's statistics are not frozen),
    /// the batch norm has no running statistics or is channels-last, or conv.OutChannels ≠ bn.NumFeatures.</exception>
    public static Conv2d FuseConvBatchNorm(Conv2d conv, BatchNormBase bn)
    {
        ArgumentNullException.ThrowIfNull(conv);
        CheckBatchNorm(bn, conv, conv.OutChannels, "OutChannels");
        return FuseConv(conv, BatchNormAffine.Of(bn));
    }

    /// <summary><see cref="FuseConvBatchNorm(Conv2d, BatchNormBase)"/> with a <see cref="FrozenBatchNorm2d"/> (evaluation in either mode).</summary>
    /// <exception cref="ArgumentException">The convolution is in training mode, or conv.OutChannels ≠ bn.NumFeatures.</exception>
    public static Conv2d FuseConvBatchNorm(Conv2d conv, FrozenBatchNorm2d bn)
    {
        ArgumentNullException.ThrowIfNull(conv);
        ArgumentNullException.ThrowIfNull(bn);
        CheckPair(conv, bn, conv.OutChannels, "OutChannels", bn.NumFeatures, trainingBatchNorm: false);
        return FuseConv(conv, BatchNormAffine.Of(bn));
    }

    /// <summary>
    /// <c>fuse_linear_bn_eval</c>: a new <see cref="Linear"/> computing bn(linear(x)) of the layers in evaluation
    /// mode, for a batch norm over the linear layer's output features: BatchNorm1d on (N, outFeatures), or a
    /// channels-last one on (N, L, outFeatures). The arguments are not changed.
    /// </summary>
    /// <exception cref="ArgumentException">A layer is in training mode (and the batch norm's statistics are not frozen),
    /// the batch norm has no running statistics, or linear.OutFeatures ≠ bn.NumFeatures.</exception>
    public static Linear FuseLinearBatchNorm(Linear linear, BatchNormBase bn)
    {
        ArgumentNullException.ThrowIfNull(linear);
        CheckBatchNorm(bn, linear, linear.OutFeatures, "OutFeatures");
        var affine = BatchNormAffine.Of(bn);
        var fused = new Linear(linear.InFeatures, linear.OutFeatures, bias: true, generator: new Generator(0));
        Fold(linear.Weight.Data, linear.Bias is null ? default : linear.Bias.Data, affine, fused.Weight.AsSpan(), fused.Bias!.AsSpan());
        fused.Eval();
        return fused;
    }

    /// <summary>
    /// A copy of <paramref name="model"/> with every Conv2d or Linear directly followed by a batch norm (or a Conv2d by
    /// a FrozenBatchNorm2d) replaced by their fusion, nested Sequentials included; the other layers are the same
    /// instances as in <paramref name="model"/>. Put the model in evaluation mode first.
    /// </summary>
    /// <exception cref="ArgumentException">A pair cannot be fused (see the pair methods).</exception>
    public static Sequential FuseSequential(Sequential model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var fused = new Sequential();
        for (int i = 0; i < model.Count; i++)
        {
            var layer = model[i];
            var next = i + 1 < model.Count ? model[i + 1] : null;
            Module? pair = (layer, next) switch
            {
                (Conv2d conv, BatchNormBase bn) => FuseConvBatchNorm(conv, bn),
                (Conv2d conv, FrozenBatchNorm2d frozen) => FuseConvBatchNorm(conv, frozen),
                (Linear linear, BatchNormBase bn) => FuseLinearBatchNorm(linear, bn),
                _ => null,
            };
            if (pair is not null)
            {
                fused.Add(pair);
                i++;
            }
            else
            {
                fused.Add(layer is Sequential inner ? FuseSequential(inner) : layer);
            }
        }
        fused.Train(model.Training);
        return fused;
    }

    private static Conv2d FuseConv(Conv2d conv, BatchNormAffine affine)
    {
        var fused = new Conv2d(
            conv.InChannels, conv.OutChannels, conv.KernelSize, conv.Stride, conv.Padding, conv.Dilation, conv.Groups,
            bias: true, generator: new Generator(0));
        Fold(conv.Weight.Data, conv.Bias is null ? default : conv.Bias.Data, affine, fused.Weight.AsSpan(), fused.Bias!.AsSpan());
        fused.Eval();
        return fused;
    }

    /// <summary>W' = W · s per output channel (row of the weight), b' = (b − mean) · s + β, s = γ / √(var + eps), in double.</summary>
    // weight, fusedWeight: [outChannels, *]; bias: [outChannels] or empty; fusedBias: [outChannels]
    private static void Fold(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, BatchNormAffine affine, Span<float> fusedWeight, Span<float> fusedBias)
    {
        int channels = fusedBias.Length;
        int rowLength = channels == 0 ? 0 : weight.Length / channels;
        for (int c = 0; c < channels; c++)
        {
            double scale = affine.Scale(c);
            for (int i = c * rowLength; i < (c + 1) * rowLength; i++)
            {
                fusedWeight[i] = (float)(weight[i] * scale);
            }
            double b = bias.IsEmpty ? 0 : bias[c];
            fusedBias[c] = (float)((b - affine.Mean[c]) * scale + affine.Shift(c));
        }
    }

    private static void CheckBatchNorm(BatchNormBase bn, Module layer, int outChannels, string outName)
    {
        ArgumentNullException.ThrowIfNull(bn);
        if (bn.RunningMean is null)
        {
            throw new ArgumentException($"Fusion needs running statistics, but {bn} was created with trackRunningStats: false.", nameof(bn));
        }
        if (layer is Conv2d && bn.ChannelAxis != 1)
        {
            throw new ArgumentException($"Conv2d outputs (N, C, H, W), but {bn} normalizes channels last (channelAxis {bn.ChannelAxis}).", nameof(bn));
        }
        CheckPair(layer, bn, outChannels, outName, bn.NumFeatures, trainingBatchNorm: bn.Training && !bn.FreezeStatistics);
    }

    private static void CheckPair(Module layer, Module bn, int outChannels, string outName, int numFeatures, bool trainingBatchNorm)
    {
        if (layer.Training || trainingBatchNorm)
        {
            throw new ArgumentException(
                $"Fusion only for evaluation: {layer.GetType().Name} training {layer.Training}, {bn.GetType().Name} training {bn.Training}; call Eval() on both first (in training mode batch norm uses batch statistics, which no fixed layer reproduces).",
                nameof(layer));
        }
        if (outChannels != numFeatures)
        {
            throw new ArgumentException(
                $"Fusion needs {layer.GetType().Name}.{outName} = {bn.GetType().Name}.NumFeatures, got {outChannels} and {numFeatures}.", nameof(bn));
        }
    }

    /// <summary>A batch norm's evaluation-mode map y = (x − Mean) · Scale + Shift per channel, read in double.</summary>
    private sealed class BatchNormAffine(float[] mean, float[] variance, float[]? weight, float[]? bias, double eps)
    {
        public float[] Mean => mean;

        public double Scale(int c) => (weight is null ? 1.0 : weight[c]) / Math.Sqrt(variance[c] + eps);

        public double Shift(int c) => bias is null ? 0 : bias[c];

        public static BatchNormAffine Of(BatchNormBase bn) =>
            new(bn.RunningMean!.ToArray(), bn.RunningVar!.ToArray(), bn.Weight?.ToArray(), bn.Bias?.ToArray(), bn.Eps);

        public static BatchNormAffine Of(FrozenBatchNorm2d bn) =>
            new(bn.RunningMean.ToArray(), bn.RunningVar.ToArray(), bn.Weight.ToArray(), bn.Bias.ToArray(), bn.Eps);
    }
}
