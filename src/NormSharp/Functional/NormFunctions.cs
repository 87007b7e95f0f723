using NormSharp.Autograd;
using NormSharp.Kernels;

namespace NormSharp.Functional;

/// <summary>
/// Batch normalization as one fused autograd op: inputs (input, weight?, bias?), output y.
/// The backward is the closed form of docs/derivations/batchnorm.md, not a composition of primitive ops;
/// in training the statistics depend on the input, in evaluation (running statistics) they are constants.
/// Keeps the input, the per-channel mean and invStd (double), the weight, and the bias (which the backward reads only
/// with <c>relu</c>, to recompute the ReLU mask). Compute: <see cref="BatchNormFast"/>. With <c>relu</c> the op is
/// max(0, BatchNorm(x)) in one pass each way (F.BatchNormRelu; used by Sequential for BatchNorm followed by ReLU).
/// </summary>
internal sealed class BatchNormFunction(bool relu = false) : AffineNormFunction
{
    private Tensor input = null!;
    private Tensor? weight;
    private Tensor? bias;
    private double[] mean = [];
    private double[] invStd = [];
    private bool training;
    private int outer, channels, inner;

    public override string Name => relu ? "BatchNormReLU" : "BatchNorm";

    /// <summary>
    /// Normalizes the [outer, channels, inner] view of <paramref name="input"/> per channel. Training: batch
    /// statistics, and the running statistics (when given) move with factor <paramref name="momentum"/>.
    /// Otherwise: the running statistics. Arguments are validated by the caller.
    /// </summary>
    public Tensor Forward(
        Tensor input, Tensor? weight, Tensor? bias, Tensor? runningMean, Tensor? runningVar,
        bool training, double momentum, double eps, int outer, int channels, int inner)
    {
        this.input = input;
        this.weight = weight;
        this.bias = bias;
        this.training = training;
        (this.outer, this.channels, this.inner) = (outer, channels, inner);
        mean = new double[channels];
        invStd = new double[channels];
        var output = Tensor.Uninitialized(input.Shape);   // every element is written
        ReadOnlySpan<float> w = weight is null ? default : weight.Data;
        ReadOnlySpan<float> b = bias is null ? default : bias.Data;
        // The fast kernels (Kernels/BatchNormFast.cs) are tested against BatchNormReference on every length and layout.
        if (training)
        {
            BatchNormFast.ForwardTraining(
                input.Data, outer, channels, inner, w, b, eps, momentum,
                runningMean is null ? default : runningMean.AsSpan(), runningVar is null ? default : runningVar.AsSpan(),
                mean, invStd, output.AsSpan(), relu);
        }
        else
        {
            BatchNormFast.ForwardInference(
                input.Data, outer, channels, inner, w, b, runningMean!.Data, runningVar!.Data, eps,
                mean, invStd, output.AsSpan(), relu);
        }
        return RecordAffine(output, input, weight, bias);
    }

    public override Tensor?[] Backward(Tensor gradOutput)
    {
        var gradInput = NeedsInputGrad[0] ? Tensor.Uninitialized(input.Shape) : null;   // every element is written
        var gradWeight = NeedsWeightGrad ? Tensor.Zeros(channels) : null;
        var gradBias = NeedsBiasGrad ? Tensor.Zeros(channels) : null;
        BatchNormFast.Backward(
            input.Data, gradOutput.Data, outer, channels, inner,
            weight is null ? default : weight.Data, bias is null ? default : bias.Data, mean, invStd, training,
            gradInput is null ? default : gradInput.AsSpan(),
            gradWeight is null ? default : gradWeight.AsSpan(),
            gradBias is null ? default : gradBias.AsSpan(), relu);
        return AffineGradients(gradInput, gradWeight, gradBias);
    }
}

/// <summary>
/// Normalization with statistics per row and an affine step on a second view of the same data, as one fused
/// autograd op with inputs (input, weight?, bias?): LayerNorm, GroupNorm, InstanceNorm (training) and RMSNorm.
/// The compute is <see cref="RowNormFast"/>; backward in closed form (docs/derivations/layernorm.md).
/// Keeps the input, the per-row mean and invStd (double) and the weight.
/// </summary>
internal sealed class RowNormFunction(NormStatistics statistics, string name) : AffineNormFunction
{
    private Tensor input = null!;
    private Tensor? weight;
    private int[] biasShape = [];
    private double[] invStd = [];
    private int rows, rowLength, affineChannels, affineInner;

    public override string Name => name;

    /// <summary>Per-row mean (0 for <see cref="NormStatistics.MeanSquare"/>), after <see cref="Forward"/>.</summary>
    public double[] Mean { get; private set; } = [];

    /// <summary>Per-row biased variance (the mean square for <see cref="NormStatistics.MeanSquare"/>), after <see cref="Forward"/>.</summary>
    public double[] Variance { get; private set; } = [];

    /// <summary>
    /// Normalizes rows of rowLength; the affine parameters have affineChannels elements, each over runs of affineInner
    /// (the view [outer, affineChannels, affineInner] of the data). Arguments are validated by the caller.
    /// </summary>
    public Tensor Forward(
        Tensor input, Tensor? weight, Tensor? bias, double eps, int rows, int rowLength, int affineChannels, int affineInner)
    {
        this.input = input;
        this.weight = weight;
        biasShape = bias?.Shape ?? [];
        (this.rows, this.rowLength) = (rows, rowLength);
        (this.affineChannels, this.affineInner) = (affineChannels, affineInner);
        Mean = new double[rows];
        Variance = new double[rows];
        invStd = new double[rows];
        // The fast kernels (Kernels/Normalization/RowNormFast.cs), tested against RowNormReference, write every element.
        var output = Tensor.Uninitialized(input.Shape);
        RowNormFast.Forward(
            input.Data, rows, rowLength, affineChannels, affineInner, weight is null ? default : weight.Data,
            bias is null ? default : bias.Data, eps, statistics == NormStatistics.MeanSquare, Mean, Variance, invStd, output.AsSpan());

        return RecordAffine(output, input, weight, bias);
    }

    public override Tensor?[] Backward(Tensor gradOutput)
    {
        var gradInput = NeedsInputGrad[0] ? Tensor.Uninitialized(input.Shape) : null;
        // the parameters may be multi-dimensional (LayerNorm's normalizedShape); the kernel sees them flat
        var gradWeight = NeedsWeightGrad ? Tensor.Uninitialized(weight!.Shape) : null;
        var gradBias = NeedsBiasGrad ? Tensor.Uninitialized(biasShape) : null;
        RowNormFast.Backward(
            input.Data, gradOutput.Data, rows, rowLength, affineChannels, affineInner, weight is null ? default : weight.Data,
            Mean, invStd, statistics == NormStatistics.MeanSquare,
            gradInput is null ? default : gradInput.AsSpan(),
            gradWeight is null ? default : gradWeight.AsSpan(),
            gradBias is null ? default : gradBias.AsSpan());
        return AffineGradients(gradInput, gradWeight, gradBias);
    }
}
