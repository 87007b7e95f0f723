using NormSharp.Functional;

namespace NormSharp.Nn;

public sealed partial class BatchNorm1d
{
    /// <summary>
    /// Batch norm of a padded batch of sequences: statistics over the valid positions only, so that padding never
    /// shifts the normalization nor the running statistics (pytorch#70529). y = (x − mean) / √(var + eps) · γ + β at
    /// valid positions, 0 at padded ones.
    /// </summary>
    /// <remarks>
    /// <para>Shapes: input (N, C, L), or (N, L, C) when the layer was created with channelAxis -1; mask (N, L) with
    /// 1 = valid and 0 = padding.</para>
    /// <para>Training: mean and biased variance over the M valid positions normalize; the running statistics move as in
    /// <see cref="BatchNormBase"/> with the unbiased variance × M / (M − 1); <see cref="NormBase.NumBatchesTracked"/>
    /// counts the step. An all-ones mask gives exactly <see cref="BatchNormBase.Forward(Tensor)"/>. Evaluation, or
    /// <see cref="BatchNormBase.FreezeStatistics"/>: the running statistics normalize. Padded outputs and their input gradients are 0. The functional form is
    /// <see cref="F.MaskedBatchNorm"/>, which also compares these semantics with Keras'.</para>
    /// </remarks>
    /// <exception cref="ArgumentException">Input not 3-D, wrong channel count, mask not (N, L) or not 0/1, or fewer
    /// than two valid positions in training.</exception>
    public Tensor Forward(Tensor input, Tensor mask)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(mask);
        if (input.Rank != 3)
        {
            throw new ArgumentException(
                $"BatchNorm1d with a mask expected 3-D input {Layout("(N, C, L)", "(N, L, C)")}, got {input.Rank}-D input of shape {ShapeUtil.Format(input.ShapeSpan)}.",
                nameof(input));
        }
        int axis = F.ResolveChannelAxis(input, ChannelAxis, nameof(BatchNorm1d));
        CheckChannels(input, axis);
        F.CheckMask(input, mask, lengthAxis: axis == 1 ? 2 : 1);
        bool useBatchStatistics = (Training && !FreezeStatistics) || RunningMean is null;
        if (!useBatchStatistics)
        {
            return F.MaskedBatchNorm(input, mask, RunningMean, RunningVar, Weight, Bias, false, 0, Eps, axis);
        }
        // Checked here too so that a refused batch does not count in NumBatchesTracked.
        F.VerifyValidPositions(input, mask);
        double factor = Training && TrackRunningStats ? NextUpdateFactor() : 0;
        return F.MaskedBatchNorm(input, mask, RunningMean, RunningVar, Weight, Bias, true, factor, Eps, axis);
    }
}
