using static TorchSharp.torch;
using TorchTensor = TorchSharp.torch.Tensor;

namespace NormSharp.Oracle;

/// <summary>
/// PyTorch's <c>nn.modules.batchnorm._BatchNorm.forward</c> (Python), ported line by line over libtorch's
/// <c>batch_norm</c>: the momentum / cumulative-average factor, <c>num_batches_tracked</c>, which statistics
/// evaluation uses, and <c>F.batch_norm</c>'s <c>_verify_batch_size</c>. TorchSharp binds the C++ op, which has
/// none of this Python logic (its own module port differs from PyTorch in places), so the oracle carries it here.
/// </summary>
internal sealed class TorchBatchNorm
{
    private readonly double eps;
    private readonly double? momentum;
    private readonly bool trackRunningStats;

    /// <summary>Creates the state; weight and bias are leaves that require grad, copies of NormSharp's.</summary>
    public TorchBatchNorm(int numFeatures, double eps, double? momentum, Tensor? weight, Tensor? bias, bool trackRunningStats, ScalarType dtype)
    {
        this.eps = eps;
        this.momentum = momentum;
        this.trackRunningStats = trackRunningStats;
        Weight = weight is null ? null : LibTorch.From(weight, requiresGrad: true, dtype);
        Bias = bias is null ? null : LibTorch.From(bias, requiresGrad: true, dtype);
        if (trackRunningStats)
        {
            RunningMean = zeros(numFeatures, dtype);
            RunningVar = ones(numFeatures, dtype);
        }
    }

    public TorchTensor? Weight { get; }

    public TorchTensor? Bias { get; }

    public TorchTensor? RunningMean { get; }

    public TorchTensor? RunningVar { get; }

    public long NumBatchesTracked { get; private set; }

    public bool Training { get; set; } = true;

    /// <summary>Input (N, C, *), channels first.</summary>
    public TorchTensor Forward(TorchTensor input)
    {
        double exponentialAverageFactor = momentum ?? 0.0;
        if (Training && trackRunningStats)
        {
            NumBatchesTracked++;
            exponentialAverageFactor = momentum ?? 1.0 / NumBatchesTracked;
        }
        bool batchNormTraining = Training || (RunningMean is null && RunningVar is null);
        bool passStatistics = !Training || trackRunningStats;
        if (batchNormTraining)
        {
            VerifyBatchSize(input);
        }
        return nn.functional.batch_norm(input,
            passStatistics ? RunningMean : null, passStatistics ? RunningVar : null,
            Weight, Bias, batchNormTraining, exponentialAverageFactor, eps);
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
