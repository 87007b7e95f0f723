namespace NormSharp.Functional;

public static partial class F
{
    /// <summary>
    /// relu(BatchNorm(...)) as one fused op: y = max(0, (x − mean) / √(var + eps) · weight + bias). Arguments,
    /// shapes, running-statistics update and exceptions are those of
    /// <see cref="BatchNorm(Tensor, Tensor?, Tensor?, Tensor?, Tensor?, bool, double, double, int)"/>.
    /// </summary>
    /// <remarks>
    /// Values and gradients equal the two ops applied in turn; the fused kernel writes max(y, 0) directly and its
    /// backward masks the upstream gradient by y &gt; 0, recomputing y from the input it already reads, so neither
    /// the intermediate y nor the ReLU's own passes over memory are needed. <see cref="Nn.Sequential"/> uses it
    /// automatically for a batch-norm layer followed by <see cref="Nn.ReLU"/>.
    /// </remarks>
    public static Tensor BatchNormRelu(
        Tensor input, Tensor? runningMean, Tensor? runningVar, Tensor? weight = null, Tensor? bias = null,
        bool training = false, double momentum = 0.1, double eps = 1e-5, int channelAxis = 1)
        => BatchNorm(input, runningMean, runningVar, weight, bias, training, momentum, eps, channelAxis, relu: true);
}
