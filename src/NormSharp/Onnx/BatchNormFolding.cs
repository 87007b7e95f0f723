using NormSharp.Nn;

namespace NormSharp.Onnx;

/// <summary>
/// The export option <see cref="OnnxExportOptions.FoldBatchNorm"/>: which Conv2d/Linear + batch-norm pairs of a
/// <see cref="Sequential"/> fold at the traced shapes. The folding itself is the library's
/// (<see cref="Fusion.FuseConvBatchNorm(Conv2d, BatchNormBase)"/>, <see cref="Fusion.FuseLinearBatchNorm"/>), so the
/// exported weights are those of <see cref="Fusion.FuseSequential"/>'s layers.
/// </summary>
internal static class BatchNormFolding
{
    /// <summary>
    /// The one layer computing <paramref name="norm"/>(<paramref name="layer"/>(x)) in evaluation, or null when the
    /// pair does not fold: <paramref name="norm"/> is a batch norm with running statistics (any
    /// <see cref="BatchNormBase"/>, or a <see cref="FrozenBatchNorm2d"/> after a Conv2d) whose channel axis is the
    /// layer's output-channel axis in <paramref name="layerOutput"/> (1 for Conv2d, the last for Linear). Fusion alone
    /// cannot tell the latter: it does not see the shapes.
    /// </summary>
    public static Module? Fuse(Module layer, Module norm, Tensor layerOutput)
    {
        if (layer is Conv2d frozenConv && norm is FrozenBatchNorm2d frozen)
        {
            return frozenConv.OutChannels == frozen.NumFeatures ? Fusion.FuseConvBatchNorm(frozenConv, frozen) : null;
        }
        if (norm is not BatchNormBase { RunningMean: not null } batchNorm)
        {
            return null;
        }
        int rank = layerOutput.Rank;
        int axis = batchNorm.ChannelAxis < 0 ? batchNorm.ChannelAxis + rank : batchNorm.ChannelAxis;
        return layer switch
        {
            Conv2d conv when axis == 1 && conv.OutChannels == batchNorm.NumFeatures => Fusion.FuseConvBatchNorm(conv, batchNorm),
            Linear linear when axis == rank - 1 && linear.OutFeatures == batchNorm.NumFeatures => Fusion.FuseLinearBatchNorm(linear, batchNorm),
            _ => null,
        };
    }
}
