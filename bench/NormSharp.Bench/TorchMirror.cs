using NormSharp.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace NormSharp.Bench;

/// <summary>
/// The libtorch counterpart of a NormSharp <see cref="Nn.Sequential"/>, layer for layer with the same sizes, bias
/// flags and hyperparameters, so that a side-by-side case cannot drift from the model it mirrors (as a hand-written
/// copy of the CLI's models did). The parameters get libtorch's own initialization: the cases time training, and
/// both libraries draw from the same distributions.
/// </summary>
internal static class TorchMirror
{
    /// <summary>An <c>nn.Sequential</c> of the mirrors of <paramref name="model"/>'s layers, in order.</summary>
    /// <exception cref="NotSupportedException">A layer, or a setting of one, has no mirror here.</exception>
    public static nn.Module<TorchTensor, TorchTensor> Of(Nn.Sequential model)
    {
        var layers = new nn.Module<TorchTensor, TorchTensor>[model.Count];
        for (int i = 0; i < model.Count; i++)
        {
            layers[i] = Layer(model[i]);
        }
        return nn.Sequential(layers);
    }

    private static nn.Module<TorchTensor, TorchTensor> Layer(Module layer) => layer switch
    {
        // Flatten does not expose its start dimension; every model here flattens from 1, nn.Flatten's default.
        Flatten => nn.Flatten(),
        Nn.Linear linear => nn.Linear(linear.InFeatures, linear.OutFeatures, hasBias: linear.Bias is not null),
        Nn.Conv2d conv => nn.Conv2d(conv.InChannels, conv.OutChannels, Pair(conv.KernelSize),
            stride: Pair(conv.Stride), padding: Pair(conv.Padding), dilation: Pair(conv.Dilation), groups: conv.Groups, bias: conv.Bias is not null),
        Nn.BatchNorm1d norm => nn.BatchNorm1d(norm.NumFeatures, norm.Eps, Momentum(norm), norm.Affine, norm.TrackRunningStats),
        Nn.BatchNorm2d norm => nn.BatchNorm2d(norm.NumFeatures, norm.Eps, Momentum(norm), norm.Affine, norm.TrackRunningStats),
        MaxPool2d pool => nn.MaxPool2d(Pair(pool.KernelSize), Pair(pool.Stride), Pair(pool.Padding)),
        Nn.Dropout dropout => nn.Dropout(dropout.P),
        Nn.ReLU => nn.ReLU(),
        Nn.Sigmoid => nn.Sigmoid(),
        Nn.Tanh => nn.Tanh(),
        _ => throw new NotSupportedException($"No libtorch mirror for the layer {layer} ({layer.GetType().Name})."),
    };

    private static (long, long) Pair(Size2d size) => (size.Height, size.Width);

    // libtorch's batch norm takes the channels at axis 1 and an exponential average; NormSharp also allows others.
    private static double Momentum(BatchNormBase norm) =>
        norm.ChannelAxis == 1 && norm.Momentum is double momentum
            ? momentum
            : throw new NotSupportedException(
                $"No libtorch mirror for {norm.GetType().Name} with channel axis {norm.ChannelAxis} and momentum {norm.Momentum?.ToString() ?? "null (cumulative average)"}; expected axis 1 and a momentum.");
}
