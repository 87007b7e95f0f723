using static TorchSharp.torch;
using TorchTensor = TorchSharp.torch.Tensor;

namespace NormSharp.Oracle;

/// <summary>
/// PyTorch's <c>nn.modules.batchnorm._BatchNorm.forward</c> (Python), ported line by line over libtorch's
/// <c>batch_norm</c>: the momentum / cumulative-average factor, <c>num_batches_tracked</c>, which statistics
/// evaluation uses, and <c>F.batch_norm</c>'s <c>_verify_batch_size</c>. TorchSharp binds the C++ op, which has
/// none of this Python logic (its own module port differs from PyTorch in places), so the oracle carries it here.
/// </summary>
internal sealed class TorchBatchNorm(int numFeatures, double eps, double? momentum, Tensor? weight, Tensor? bias, bool trackRunningStats, ScalarType dtype)
    : TorchNormState(numFeatures, eps, momentum, weight, bias, trackRunningStats, dtype)
{
    public long NumBatchesTracked { get; private set; }

    /// <summary>Input (N, C, *), channels first.</summary>
    public TorchTensor Forward(TorchTensor input)
    {
        double exponentialAverageFactor = Momentum ?? 0.0;
        if (Training && TrackRunningStats)
        {
            NumBatchesTracked++;
            exponentialAverageFactor = Momentum ?? 1.0 / NumBatchesTracked;
        }
        bool batchNormTraining = Training || (RunningMean is null && RunningVar is null);
        bool passStatistics = !Training || TrackRunningStats;
        if (batchNormTraining)
        {
            VerifyBatchSize(input);
        }
        return nn.functional.batch_norm(input,
            passStatistics ? RunningMean : null, passStatistics ? RunningVar : null,
            Weight, Bias, batchNormTraining, exponentialAverageFactor, Eps);
    }

    /// <summary>Zeroes the parameter gradients (PyTorch's <c>zero_grad(set_to_none=False)</c>).</summary>
    public void ZeroGrad()
    {
        Weight?.grad?.zero_();
        Bias?.grad?.zero_();
    }

    /// <summary><c>torch.nn.functional._verify_batch_size</c>: one value per channel is refused in training.</summary>
    public static void VerifyBatchSize(TorchTensor input)
    {
        long valuesPerChannel = input.shape[0];
        for (int d = 2; d < input.shape.Length; d++)
        {
            valuesPerChannel *= input.shape[d];
        }
        if (valuesPerChannel == 1)
        {
            throw new ArgumentException(
                $"Expected more than 1 value per channel when training, got input size [{string.Join(", ", input.shape)}]");
        }
    }
}
