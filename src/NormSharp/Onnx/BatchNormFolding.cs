using NormSharp.Nn;

namespace NormSharp.Onnx;

/// <summary>
/// Folds an evaluation-mode batch norm into the Conv2d or Linear before it (torch.nn.utils.fusion's formula), so the
/// exported graph has one node where the model has two: per output channel c, s = γ[c] / √(running_var[c] + eps),
/// W'[c, ...] = W[c, ...] · s, b'[c] = (b[c] − running_mean[c]) · s + β[c], in double, rounded once to float.
/// </summary>
internal static class BatchNormFolding
{
    /// <summary>
    /// Whether <paramref name="norm"/> (a BatchNorm1d/2d/3d) can be folded into <paramref name="layer"/>, whose output
    /// <paramref name="layerOutput"/> it normalizes: it has running statistics, and its channel axis is the layer's
    /// output-channel axis (1 for Conv2d, the last for Linear).
    /// </summary>
    public static bool CanFold(Module layer, Module norm, Tensor layerOutput)
    {
        if (norm is not (BatchNorm1d or BatchNorm2d or BatchNorm3d) || norm is not BatchNormBase { RunningMean: not null } batchNorm)
        {
            return false;
        }
        int rank = layerOutput.Rank;
        int axis = batchNorm.ChannelAxis < 0 ? batchNorm.ChannelAxis + rank : batchNorm.ChannelAxis;
        return layer switch
        {
            Conv2d conv => axis == 1 && conv.OutChannels == batchNorm.NumFeatures,
            Linear linear => axis == rank - 1 && linear.OutFeatures == batchNorm.NumFeatures,
            _ => false,
        };
    }

    /// <summary>The folded weight (the layer's weight shape, output channels first) and bias [outputChannels].</summary>
    public static (float[] Weight, float[] Bias) Fold(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, BatchNormBase norm)
    {
        int channels = norm.NumFeatures;
        int perChannel = weight.Length / channels;
        var mean = norm.RunningMean!.AsSpan();
        var variance = norm.RunningVar!.AsSpan();
        var foldedWeight = new float[weight.Length];
        var foldedBias = new float[channels];
        for (int c = 0; c < channels; c++)
        {
            double gamma = norm.Weight is null ? 1 : norm.Weight.AsSpan()[c];
            double beta = norm.Bias is null ? 0 : norm.Bias.AsSpan()[c];
            double scale = gamma / Math.Sqrt(variance[c] + norm.Eps);
            for (int i = c * perChannel; i < (c + 1) * perChannel; i++)
            {
                foldedWeight[i] = (float)(weight[i] * scale);
            }
            double layerBias = bias.IsEmpty ? 0 : bias[c];
            foldedBias[c] = (float)((layerBias - mean[c]) * scale + beta);
        }
        return (foldedWeight, foldedBias);
    }
}
