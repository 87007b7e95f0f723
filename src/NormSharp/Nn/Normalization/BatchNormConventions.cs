namespace NormSharp.Nn;

/// <summary>
/// Porting batch-norm settings between frameworks. The running-average momentum is written with the weight on opposite
/// terms, and the default eps differs:
/// <list type="table">
/// <listheader><term>convention</term><description>update of the running statistics; defaults</description></listheader>
/// <item><term>PyTorch, NormSharp</term><description>running = (1 − m) · running + m · batch; m = 0.1, eps 1e-5, unbiased variance into the running variance</description></item>
/// <item><term>Keras / TensorFlow</term><description>moving = m · moving + (1 − m) · batch; m = 0.99, epsilon 1e-3; Keras 3 puts the biased batch variance (ops.moments) into the moving variance</description></item>
/// <item><term>ONNX BatchNormalization</term><description>running = m · running + (1 − m) · batch; m = 0.9, epsilon 1e-5; opset 15's training mode puts the biased (population) variance into the running variance</description></item>
/// </list>
/// So Keras' 0.99 is 0.01 here and ONNX's 0.9 is 0.1; passing 0.99 as PyTorch momentum makes the running statistics follow
/// almost only the last batch. Channels-last data (Keras' axis=-1, NHWC) needs <c>channelAxis: -1</c>.
/// </summary>
public static class BatchNormConventions
{
    /// <summary>Keras' <c>BatchNormalization</c> default momentum (weight on the old value): 0.99.</summary>
    public const double KerasMomentum = 0.99;

    /// <summary>Keras' <c>BatchNormalization</c> default epsilon: 1e-3 (PyTorch's is 1e-5).</summary>
    public const double KerasEpsilon = 1e-3;

    /// <summary>ONNX <c>BatchNormalization</c> default momentum (weight on the old value): 0.9.</summary>
    public const double OnnxMomentum = 0.9;

    /// <summary>ONNX <c>BatchNormalization</c> default epsilon: 1e-5.</summary>
    public const double OnnxEpsilon = 1e-5;

    /// <summary>NormSharp's (PyTorch's) momentum for a Keras or ONNX momentum, which weighs the old value: 1 − momentum.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A momentum outside [0, 1].</exception>
    public static double FromOldValueWeight(double momentum)
    {
        if (!(momentum >= 0 && momentum <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "A Keras or ONNX momentum is in [0, 1] (Keras' default 0.99, ONNX's 0.9).");
        }
        return 1 - momentum;
    }

    /// <summary>The Keras or ONNX momentum (weight on the old value) for NormSharp's momentum: 1 − momentum.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A momentum outside [0, 1].</exception>
    public static double ToOldValueWeight(double momentum)
    {
        if (!(momentum >= 0 && momentum <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "A NormSharp (PyTorch) momentum is in [0, 1] (default 0.1).");
        }
        return 1 - momentum;
    }

    /// <summary>
    /// A BatchNorm2d set up as Keras' <c>BatchNormalization()</c> defaults on (N, H, W, C) data: channelAxis -1,
    /// momentum 1 − <paramref name="kerasMomentum"/>, eps <paramref name="epsilon"/>.
    /// </summary>
    public static BatchNorm2d KerasBatchNorm2d(int numFeatures, double kerasMomentum = KerasMomentum, double epsilon = KerasEpsilon, int channelAxis = -1) =>
        new(numFeatures, eps: epsilon, momentum: FromOldValueWeight(kerasMomentum), channelAxis: channelAxis);
}
