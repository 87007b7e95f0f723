using NormSharp.Autograd;
using NormSharp.Kernels;

namespace NormSharp.Functional;

public static partial class F
{
    /// <summary>
    /// Batch normalization of a padded batch of sequences, with statistics over the valid positions only:
    /// per channel, y = (x − mean) / √(var + eps) · weight + bias at valid positions, and y = 0 at padded ones.
    /// </summary>
    /// <remarks>
    /// <para>Shapes: input (N, C, L) with <paramref name="channelAxis"/> 1, or channels-last (N, L, C) with
    /// <paramref name="channelAxis"/> -1 (or 2); mask (N, L), 1 = valid, 0 = padding (no other values); weight, bias,
    /// runningMean, runningVar [C] or null.</para>
    /// <para><paramref name="training"/> true: the mean and the biased variance over the M valid positions (N · L minus
    /// the padding) normalize; given running statistics move by running = (1 − momentum) · running + momentum · batch
    /// with the unbiased variance × M / (M − 1), so padding never enters them. With every position valid this is
    /// exactly <see cref="BatchNorm(Tensor, Tensor?, Tensor?, Tensor?, Tensor?, bool, double, double, int)"/>.
    /// <paramref name="training"/> false: the running statistics normalize.</para>
    /// <para>Padded outputs are 0 (not β and not the normalized padding value) so that a following layer or sum sees
    /// nothing from the padding, and their gradients are 0 too. Keras 3's <c>BatchNormalization(x, mask=...)</c> differs
    /// in three ways: it divides the masked sums by M + 1e-7 instead of M (a relative difference of 1e-7 / M), it moves
    /// the moving variance with the biased variance, and it normalizes the padded positions with the same statistics
    /// instead of zeroing them.</para>
    /// <para>Backward: batch norm's closed form with every sum over the valid positions (docs/derivations/batchnorm.md).</para>
    /// </remarks>
    /// <exception cref="ArgumentException">Input not 3-D, a mask whose shape is not (N, L) or with values other than 0 and 1,
    /// parameters of the wrong length, training with fewer than two valid positions, or evaluation without running statistics.</exception>
    public static Tensor MaskedBatchNorm(
        Tensor input, Tensor mask, Tensor? runningMean, Tensor? runningVar, Tensor? weight = null, Tensor? bias = null,
        bool training = false, double momentum = 0.1, double eps = 1e-5, int channelAxis = 1)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(mask);
        NormChecks.CheckEps(eps, "MaskedBatchNorm");
        if (input.Rank != 3)
        {
            throw new ArgumentException(
                $"MaskedBatchNorm expected 3-D input (N, C, L) or channels-last (N, L, C), got {input.Rank}-D input of shape {ShapeUtil.Format(input.ShapeSpan)}.", nameof(input));
        }
        int axis = ResolveChannelAxis(input, channelAxis, "MaskedBatchNorm");
        var (outer, channels, inner) = ChannelView(input, axis);
        int lengthAxis = axis == 1 ? 2 : 1;
        CheckMask(input, mask, lengthAxis);
        CheckPerChannel(weight, channels, axis, input, "weight", "MaskedBatchNorm");
        CheckPerChannel(bias, channels, axis, input, "bias", "MaskedBatchNorm");
        CheckPerChannel(runningMean, channels, axis, input, "runningMean", "MaskedBatchNorm");
        CheckPerChannel(runningVar, channels, axis, input, "runningVar", "MaskedBatchNorm");
        if ((runningMean is null) != (runningVar is null))
        {
            throw new ArgumentException("MaskedBatchNorm needs both runningMean and runningVar or neither.");
        }
        if (training)
        {
            VerifyValidPositions(input, mask);
        }
        else if (runningMean is null)
        {
            throw new ArgumentException(
                "MaskedBatchNorm with training: false normalizes with the running statistics, but runningMean and runningVar are null; pass them, or training: true.");
        }
        return new MaskedBatchNormFunction().Forward(input, mask, weight, bias, runningMean, runningVar, training, momentum, eps, outer, channels, inner);
    }

    /// <summary>Batch norm's one-value check for a masked batch: training needs at least two valid positions.</summary>
    internal static void VerifyValidPositions(Tensor input, Tensor mask)
    {
        long valid = Kernels.MaskedBatchNorm.CountValid(mask.Data);
        if (valid <= 1)
        {
            throw new ArgumentException(
                $"Expected more than 1 valid value per channel when training, got input size {ShapeUtil.Format(input.ShapeSpan)} with {valid} valid position(s) in its mask.", nameof(mask));
        }
    }

    /// <summary>Throws unless the mask is (N, L) for the input's batch and length axes and holds only 0 and 1.</summary>
    internal static void CheckMask(Tensor input, Tensor mask, int lengthAxis)
    {
        int batch = input.Size(0), length = input.Size(lengthAxis);
        if (mask.Rank != 2 || mask.Size(0) != batch || mask.Size(1) != length)
        {
            throw new ArgumentException(
                $"The mask must have shape [{batch}, {length}] (N, L) for input of shape {ShapeUtil.Format(input.ShapeSpan)}, got {ShapeUtil.Format(mask.ShapeSpan)}.", nameof(mask));
        }
        foreach (float value in mask.Data)
        {
            if (value is not (0f or 1f))
            {
                throw new ArgumentException($"The mask must hold 1 (valid) and 0 (padding) only, got {value}.", nameof(mask));
            }
        }
    }

    /// <summary>
    /// Masked batch norm as one fused autograd op with inputs (input, weight?, bias?); the mask is a constant.
    /// Keeps the input, a copy of the mask and the per-channel mean and invStd (double). Compute: <see cref="Kernels.MaskedBatchNorm"/>.
    /// </summary>
    private sealed class MaskedBatchNormFunction : AffineNormFunction
    {
        private Tensor input = null!;
        private float[] mask = [];
        private Tensor? weight;
        private double[] mean = [];
        private double[] invStd = [];
        private bool training;
        private int outer, channels, inner;

        public override string Name => "MaskedBatchNorm";

        public Tensor Forward(
            Tensor input, Tensor mask, Tensor? weight, Tensor? bias, Tensor? runningMean, Tensor? runningVar,
            bool training, double momentum, double eps, int outer, int channels, int inner)
        {
            // A copy: the mask is no input of the op, so nothing would keep its storage from reuse before the backward.
            (this.input, this.mask, this.weight, this.training) = (input, mask.ToArray(), weight, training);
            (this.outer, this.channels, this.inner) = (outer, channels, inner);
            mean = new double[channels];
            var variance = new double[channels];
            if (training)
            {
                Kernels.MaskedBatchNorm.Moments(input.Data, mask.Data, outer, channels, inner, mean, variance);
                if (runningMean is not null)
                {
                    long valid = Kernels.MaskedBatchNorm.CountValid(mask.Data);
                    RunningStatistics.Update(mean, variance, valid, momentum, runningMean.AsSpan(), runningVar!.AsSpan());
                }
            }
            else
            {
                for (int c = 0; c < channels; c++)
                {
                    mean[c] = runningMean!.Data[c];
                    variance[c] = runningVar!.Data[c];
                }
            }
            invStd = new double[channels];
            NormalizationReference.InvStd(variance, eps, invStd);
            var output = Tensor.Uninitialized(input.Shape);   // every element is written
            Kernels.MaskedBatchNorm.Normalize(
                input.Data, mask.Data, outer, channels, inner, mean, invStd,
                weight is null ? default : weight.Data, bias is null ? default : bias.Data, output.AsSpan());
            return RecordAffine(output, input, weight, bias);
        }

        public override Tensor?[] Backward(Tensor gradOutput)
        {
            var gradInput = NeedsInputGrad[0] ? Tensor.Uninitialized(input.Shape) : null;   // every element is written
            var gradWeight = NeedsWeightGrad ? Tensor.Zeros(channels) : null;
            var gradBias = NeedsBiasGrad ? Tensor.Zeros(channels) : null;
            Kernels.MaskedBatchNorm.Backward(
                input.Data, mask, gradOutput.Data, outer, channels, inner, mean, invStd,
                weight is null ? default : weight.Data, training,
                gradInput is null ? default : gradInput.AsSpan(),
                gradWeight is null ? default : gradWeight.AsSpan(),
                gradBias is null ? default : gradBias.AsSpan());
            return AffineGradients(gradInput, gradWeight, gradBias);
        }
    }
}
