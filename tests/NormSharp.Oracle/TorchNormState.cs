using static TorchSharp.torch;
using TorchTensor = TorchSharp.torch.Tensor;

namespace NormSharp.Oracle;

/// <summary>
/// State shared by the ported PyTorch norm modules (<c>_NormBase</c>): eps, momentum, tracking, the affine leaves
/// (copies of NormSharp's) and the running buffers, created as PyTorch's reset_running_stats does.
/// </summary>
internal abstract class TorchNormState
{
    protected TorchNormState(int numFeatures, double eps, double? momentum, Tensor? weight, Tensor? bias, bool trackRunningStats, ScalarType dtype)
    {
        Eps = eps;
        Momentum = momentum;
        TrackRunningStats = trackRunningStats;
        Weight = weight is null ? null : LibTorch.From(weight, requiresGrad: true, dtype);
        Bias = bias is null ? null : LibTorch.From(bias, requiresGrad: true, dtype);
        if (trackRunningStats)
        {
            RunningMean = zeros(numFeatures, dtype);
            RunningVar = ones(numFeatures, dtype);
        }
    }

    protected double Eps { get; }

    protected double? Momentum { get; }

    protected bool TrackRunningStats { get; }

    public TorchTensor? Weight { get; }

    public TorchTensor? Bias { get; }

    public TorchTensor? RunningMean { get; }

    public TorchTensor? RunningVar { get; }

    public bool Training { get; set; } = true;
}
