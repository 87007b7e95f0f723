using NormSharp.Functional;

namespace NormSharp.Nn;

/// <summary>
/// Instance normalization (PyTorch's <c>_InstanceNorm</c>): each channel of each sample is normalized over its
/// own spatial elements, y = (x − E[x]) / √(Var[x] + eps) · γ + β (biased variance, eps inside the square root).
/// </summary>
/// <remarks>
/// <para>Defaults differ from BatchNorm, as in PyTorch: affine false, trackRunningStats false.</para>
/// <para>Input batched (N, C, *) or unbatched (C, *); channels first.</para>
/// <para>Statistics: per-instance statistics in training, and always when running statistics are not tracked.
/// With trackRunningStats, evaluation uses the running statistics, and each training forward moves them toward
/// the batch average of the instance means and unbiased variances:
/// running = (1 − momentum) · running + momentum · mean over n (as ATen, which views the input as (1, N·C, *)
/// and averages the N updated copies). momentum null means 0 here, as in PyTorch: the running statistics stay put.
/// <see cref="NormBase.NumBatchesTracked"/> is not counted by instance norm (PyTorch does not either).</para>
/// <para>Momentum convention: PyTorch's, weight on the new value (default 0.1); Keras' 0.99 is 0.01 here (see <see cref="NormBase"/>).</para>
/// <para>Training with one spatial element is refused (<see cref="ArgumentException"/>): it would normalize to 0.</para>
/// <para>A channel count other than numFeatures is an error even when affine and trackRunningStats are false
/// (PyTorch only warns then).</para>
/// </remarks>
public abstract class InstanceNormBase : NormBase
{
    /// <summary>Creates the layer; see <see cref="NormBase"/> for the arguments.</summary>
    protected InstanceNormBase(int numFeatures, double eps, double? momentum, bool affine, bool trackRunningStats)
        : base(numFeatures, eps, momentum, affine, trackRunningStats, channelAxis: 1)
    {
    }

    /// <summary>The rank of an unbatched input, (C, *): 2 for 1d, 3 for 2d, 4 for 3d.</summary>
    private protected abstract int UnbatchedRank { get; }

    /// <summary>The accepted layouts for error messages.</summary>
    private protected abstract string Layouts { get; }

    /// <summary>Normalizes each instance; with tracked running statistics in training mode, also updates them.</summary>
    /// <exception cref="ArgumentException">Wrong rank, channel count other than NumFeatures, or one spatial element in training.</exception>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        bool unbatched = input.Rank == UnbatchedRank;
        if (!unbatched && input.Rank != UnbatchedRank + 1)
        {
            throw new ArgumentException(
                $"{GetType().Name} expected {Layouts}, got {input.Rank}-D input of shape {ShapeUtil.Format(input.ShapeSpan)}.", nameof(input));
        }
        CheckChannels(input, unbatched ? 0 : 1);
        var batched = unbatched ? input.Reshape([1, .. input.Shape]) : input;
        var output = F.InstanceNorm(
            batched, RunningMean, RunningVar, Weight, Bias,
            useInputStats: Training || !TrackRunningStats, momentum: Momentum ?? 0.0, eps: Eps);
        return unbatched ? output.Reshape(input.Shape) : output;
    }
}

/// <summary>
/// Instance normalization over (N, C, L) or unbatched (C, L) input (PyTorch's <c>nn.InstanceNorm1d</c>):
/// each (n, c) normalized over L. Defaults: eps 1e-5, momentum 0.1, affine false, trackRunningStats false.
/// See <see cref="InstanceNormBase"/>.
/// </summary>
/// <param name="numFeatures">C.</param>
/// <param name="eps">Added to the variance inside the square root.</param>
/// <param name="momentum">Weight of the new statistic in the running average (PyTorch's convention); null = 0.</param>
/// <param name="affine">Learn γ (ones) and β (zeros), per channel.</param>
/// <param name="trackRunningStats">Keep running statistics and use them in evaluation mode.</param>
public sealed class InstanceNorm1d(int numFeatures, double eps = 1e-5, double? momentum = 0.1, bool affine = false, bool trackRunningStats = false)
    : InstanceNormBase(numFeatures, eps, momentum, affine, trackRunningStats)
{
    private protected override int UnbatchedRank => 2;

    private protected override string Layouts => "3-D input (N, C, L) or 2-D unbatched input (C, L)";
}

/// <summary>
/// Instance normalization over (N, C, H, W) or unbatched (C, H, W) input (PyTorch's <c>nn.InstanceNorm2d</c>):
/// each (n, c) normalized over H × W. Defaults: eps 1e-5, momentum 0.1, affine false, trackRunningStats false.
/// See <see cref="InstanceNormBase"/>.
/// </summary>
/// <param name="numFeatures">C.</param>
/// <param name="eps">Added to the variance inside the square root.</param>
/// <param name="momentum">Weight of the new statistic in the running average (PyTorch's convention); null = 0.</param>
/// <param name="affine">Learn γ (ones) and β (zeros), per channel.</param>
/// <param name="trackRunningStats">Keep running statistics and use them in evaluation mode.</param>
public sealed class InstanceNorm2d(int numFeatures, double eps = 1e-5, double? momentum = 0.1, bool affine = false, bool trackRunningStats = false)
    : InstanceNormBase(numFeatures, eps, momentum, affine, trackRunningStats)
{
    private protected override int UnbatchedRank => 3;

    private protected override string Layouts => "4-D input (N, C, H, W) or 3-D unbatched input (C, H, W)";
}

/// <summary>
/// Instance normalization over (N, C, D, H, W) or unbatched (C, D, H, W) input (PyTorch's <c>nn.InstanceNorm3d</c>):
/// each (n, c) normalized over D × H × W. Defaults: eps 1e-5, momentum 0.1, affine false, trackRunningStats false.
/// See <see cref="InstanceNormBase"/>.
/// </summary>
/// <param name="numFeatures">C.</param>
/// <param name="eps">Added to the variance inside the square root.</param>
/// <param name="momentum">Weight of the new statistic in the running average (PyTorch's convention); null = 0.</param>
/// <param name="affine">Learn γ (ones) and β (zeros), per channel.</param>
/// <param name="trackRunningStats">Keep running statistics and use them in evaluation mode.</param>
public sealed class InstanceNorm3d(int numFeatures, double eps = 1e-5, double? momentum = 0.1, bool affine = false, bool trackRunningStats = false)
    : InstanceNormBase(numFeatures, eps, momentum, affine, trackRunningStats)
{
    private protected override int UnbatchedRank => 4;

    private protected override string Layouts => "5-D input (N, C, D, H, W) or 4-D unbatched input (C, D, H, W)";
}
