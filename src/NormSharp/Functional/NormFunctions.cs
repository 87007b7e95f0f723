using NormSharp.Autograd;
using NormSharp.Kernels;

namespace NormSharp.Functional;

/// <summary>
/// Batch normalization as one fused autograd op: inputs (input, weight?, bias?), output y.
/// The backward is the closed form of docs/derivations/batchnorm.md, not a composition of primitive ops;
/// in training the statistics depend on the input, in evaluation (running statistics) they are constants.
/// Keeps the input, the per-channel mean and invStd (double) and the weight: exactly what the backward reads.
/// </summary>
internal sealed class BatchNormFunction : Function
{
    private Tensor input = null!;
    private Tensor? weight;
    private double[] mean = [];
    private double[] invStd = [];
    private bool training;
    private int outer, channels, inner;
    private int weightIndex = -1, biasIndex = -1;

    public override string Name => "BatchNorm";

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
        this.training = training;
        (this.outer, this.channels, this.inner) = (outer, channels, inner);
        mean = new double[channels];
        invStd = new double[channels];
        var output = Tensor.Zeros(input.Shape);
        ReadOnlySpan<float> w = weight is null ? default : weight.Data;
        ReadOnlySpan<float> b = bias is null ? default : bias.Data;
        if (training)
        {
            BatchNormReference.ForwardTraining(
                input.Data, outer, channels, inner, w, b, eps, momentum,
                runningMean is null ? default : runningMean.AsSpan(), runningVar is null ? default : runningVar.AsSpan(),
                mean, invStd, output.AsSpan());
        }
        else
        {
            BatchNormReference.ForwardInference(
                input.Data, outer, channels, inner, w, b, runningMean!.Data, runningVar!.Data, eps,
                mean, invStd, output.AsSpan());
        }
        var inputs = new List<Tensor> { input };
        if (weight is not null)
        {
            weightIndex = inputs.Count;
            inputs.Add(weight);
        }
        if (bias is not null)
        {
            biasIndex = inputs.Count;
            inputs.Add(bias);
        }
        return Record(output, [.. inputs]);
    }

    public override Tensor?[] Backward(Tensor gradOutput)
    {
        var gradients = new Tensor?[Inputs.Count];
        var gradInput = NeedsInputGrad[0] ? Tensor.Zeros(input.Shape) : null;
        var gradWeight = weightIndex >= 0 && NeedsInputGrad[weightIndex] ? Tensor.Zeros(channels) : null;
        var gradBias = biasIndex >= 0 && NeedsInputGrad[biasIndex] ? Tensor.Zeros(channels) : null;
        BatchNormReference.Backward(
            input.Data, gradOutput.Data, outer, channels, inner,
            weight is null ? default : weight.Data, mean, invStd, training,
            gradInput is null ? default : gradInput.AsSpan(),
            gradWeight is null ? default : gradWeight.AsSpan(),
            gradBias is null ? default : gradBias.AsSpan());
        gradients[0] = gradInput;
        if (weightIndex >= 0)
        {
            gradients[weightIndex] = gradWeight;
        }
        if (biasIndex >= 0)
        {
            gradients[biasIndex] = gradBias;
        }
        return gradients;
    }
}

/// <summary>
/// Normalization with statistics per row of a [rows, rowLength] view and an affine step on a second view
/// [affineOuter, affineChannels, affineInner] of the same data: LayerNorm (rows = leading dims, affine per
/// feature), GroupNorm (rows = N · G, affine per channel), InstanceNorm (GroupNorm with G = C), RMSNorm
/// (mean square instead of mean and variance). One fused autograd op with inputs (input, weight?, bias?);
/// backward in closed form (docs/derivations/layernorm.md).
/// </summary>
internal sealed class RowNormFunction(NormStatistics statistics, string name) : Function
{
    private Tensor input = null!;
    private Tensor? weight;
    private int[] biasShape = [];
    private double[] invStd = [];
    private int rows, rowLength, affineOuter, affineChannels, affineInner;
    private int weightIndex = -1, biasIndex = -1;

    public override string Name => name;

    /// <summary>Per-row mean (0 for <see cref="NormStatistics.MeanSquare"/>), after <see cref="Forward"/>.</summary>
    public double[] Mean { get; private set; } = [];

    /// <summary>Per-row biased variance (the mean square for <see cref="NormStatistics.MeanSquare"/>), after <see cref="Forward"/>.</summary>
    public double[] Variance { get; private set; } = [];

    /// <summary>Normalizes; the affine parameters have affineChannels elements. Arguments are validated by the caller.</summary>
    public Tensor Forward(
        Tensor input, Tensor? weight, Tensor? bias, double eps,
        int rows, int rowLength, int affineOuter, int affineChannels, int affineInner)
    {
        this.input = input;
        this.weight = weight;
        biasShape = bias?.Shape ?? [];
        (this.rows, this.rowLength) = (rows, rowLength);
        (this.affineOuter, this.affineChannels, this.affineInner) = (affineOuter, affineChannels, affineInner);
        Mean = new double[rows];
        Variance = new double[rows];
        invStd = new double[rows];

        // first: statistics per row (one row = one [1, rows, rowLength] channel)
        NormalizationReference.Moments(input.Data, 1, rows, rowLength, Mean, Variance);
        if (statistics == NormStatistics.MeanSquare)
        {
            // mean(x²) = variance + mean², both accurate; RMSNorm does not center
            for (int r = 0; r < rows; r++)
            {
                Variance[r] += Mean[r] * Mean[r];
                Mean[r] = 0;
            }
        }
        NormalizationReference.InvStd(Variance, eps, invStd);

        // then: x̂ per row, and the affine step on its own view
        var output = Tensor.Zeros(input.Shape);
        NormalizationReference.Normalize<float>(input.Data, 1, rows, rowLength, Mean, invStd, default, default, output.AsSpan());
        if (weight is not null || bias is not null)
        {
            NormalizationReference.ScaleShift(
                output.Data, affineOuter, affineChannels, affineInner,
                weight is null ? default : weight.Data, bias is null ? default : bias.Data, output.AsSpan());
        }

        var inputs = new List<Tensor> { input };
        if (weight is not null)
        {
            weightIndex = inputs.Count;
            inputs.Add(weight);
        }
        if (bias is not null)
        {
            biasIndex = inputs.Count;
            inputs.Add(bias);
        }
        return Record(output, [.. inputs]);
    }

    public override Tensor?[] Backward(Tensor gradOutput)
    {
        var gradients = new Tensor?[Inputs.Count];
        bool needInput = NeedsInputGrad[0];
        bool needWeight = weightIndex >= 0 && NeedsInputGrad[weightIndex];
        bool needBias = biasIndex >= 0 && NeedsInputGrad[biasIndex];

        // the affine step: dŷ = dy · w on the affine view, gradWeight = Σ dy · x̂, gradBias = Σ dy
        ReadOnlySpan<float> gradNormalized = gradOutput.Data;
        float[]? scaled = weight is not null && needInput ? new float[gradOutput.Length] : null;
        // the parameters may be multi-dimensional (LayerNorm's normalizedShape); the kernel sees them flat
        Tensor? gradWeight = needWeight ? Tensor.Zeros(weight!.Shape) : null;
        Tensor? gradBias = needBias ? Tensor.Zeros(biasShape) : null;
        if (scaled is not null || needWeight || needBias)
        {
            float[]? normalized = null;
            if (needWeight)
            {
                normalized = new float[input.Length];
                NormalizationReference.Normalize<float>(input.Data, 1, rows, rowLength, Mean, invStd, default, default, normalized);
            }
            NormalizationReference.ScaleShiftBackward(
                gradOutput.Data, normalized, affineOuter, affineChannels, affineInner,
                weight is null ? default : weight.Data,
                scaled, gradWeight is null ? default : gradWeight.AsSpan(), gradBias is null ? default : gradBias.AsSpan());
            if (scaled is not null)
            {
                gradNormalized = scaled;
            }
        }

        // the normalization: closed form per row
        if (needInput)
        {
            var gradInput = Tensor.Zeros(input.Shape);
            NormalizationReference.NormalizeBackward<float>(
                input.Data, gradNormalized, 1, rows, rowLength, Mean, invStd, default, statistics,
                gradInput.AsSpan(), default, default);
            gradients[0] = gradInput;
        }
        if (weightIndex >= 0)
        {
            gradients[weightIndex] = gradWeight;
        }
        if (biasIndex >= 0)
        {
            gradients[biasIndex] = gradBias;
        }
        return gradients;
    }
}
