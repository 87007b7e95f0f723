using static TorchSharp.torch;
using TorchTensor = TorchSharp.torch.Tensor;

namespace NormSharp.Oracle;

/// <summary>
/// The parts of PyTorch's normalization layers that live in Python (torch/nn/functional.py and
/// torch/nn/modules/instancenorm.py) or that TorchSharp does not bind, ported over libtorch ops so that
/// the oracle has PyTorch's full semantics, not only the C++ kernels'.
/// </summary>
internal static class TorchNorms
{
    /// <summary>torch.finfo(torch.float32).eps: RMSNorm's eps when none is given, for float32 input.</summary>
    public const double Float32Eps = 1.1920928955078125e-07;

    /// <summary>
    /// <c>F.group_norm</c>: <c>_verify_batch_size</c> on the (N·C/G, G, *) view, then libtorch's group_norm.
    /// </summary>
    public static TorchTensor GroupNorm(TorchTensor input, int numGroups, TorchTensor? weight, TorchTensor? bias, double eps)
    {
        long valuesPerGroup = input.shape[0] * input.shape[1] / numGroups;
        for (int d = 2; d < input.shape.Length; d++)
        {
            valuesPerGroup *= input.shape[d];
        }
        if (valuesPerGroup == 1)
        {
            throw new ArgumentException($"Expected more than 1 value per channel when training, got input size [{string.Join(", ", input.shape)}]");
        }
        return nn.functional.group_norm(input, numGroups, weight, bias, eps);
    }

    /// <summary>
    /// <c>F.rms_norm</c>. TorchSharp 0.107 does not bind it, so this is ATen's own composite definition
    /// (aten/src/ATen/native/layer_norm.cpp, rms_norm_symint): x · rsqrt(mean(x², normalized dims) + eps) · weight.
    /// eps must be given: for float32 input PyTorch's default is <see cref="Float32Eps"/>, whatever dtype the oracle runs in.
    /// </summary>
    public static TorchTensor RmsNorm(TorchTensor input, int normalizedDims, TorchTensor? weight, double eps)
    {
        long[] dims = Enumerable.Range(input.shape.Length - normalizedDims, normalizedDims).Select(d => (long)d).ToArray();
        var inverseRms = input.pow(2).mean(dims, keepdim: true).add(eps).rsqrt();
        var result = input.mul(inverseRms);
        return weight is null ? result : result.mul(weight);
    }
}

/// <summary>
/// PyTorch's <c>_InstanceNorm.forward</c> and <c>F.instance_norm</c> (Python), ported over libtorch's
/// instance_norm: batch statistics in training or without tracked statistics, momentum None meaning 0,
/// <c>_verify_spatial_size</c>, and unbatched (C, *) input handled by adding a batch dimension.
/// </summary>
internal sealed class TorchInstanceNorm(int numFeatures, double eps, double? momentum, Tensor? weight, Tensor? bias, bool trackRunningStats, ScalarType dtype)
    : TorchNormState(numFeatures, eps, momentum, weight, bias, trackRunningStats, dtype)
{
    /// <summary>Input (N, C, *), or (C, *) when <paramref name="unbatched"/>.</summary>
    public TorchTensor Forward(TorchTensor input, bool unbatched)
    {
        if (unbatched)
        {
            return Forward(input.unsqueeze(0), unbatched: false).squeeze(0);
        }
        bool useInputStats = Training || !TrackRunningStats;
        if (useInputStats)
        {
            long spatial = 1;
            for (int d = 2; d < input.shape.Length; d++)
            {
                spatial *= input.shape[d];
            }
            if (spatial == 1)
            {
                throw new ArgumentException($"Expected more than 1 spatial element when training, got input size [{string.Join(", ", input.shape)}]");
            }
        }
        return nn.functional.instance_norm(input, RunningMean, RunningVar, Weight, Bias, useInputStats, Momentum ?? 0.0, Eps);
    }

    public void ZeroGrad()
    {
        Weight?.grad?.zero_();
        Bias?.grad?.zero_();
    }
}
