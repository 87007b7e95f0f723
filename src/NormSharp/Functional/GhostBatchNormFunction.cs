using NormSharp.Autograd;
using NormSharp.Kernels;

namespace NormSharp.Functional;

/// <summary>
/// Ghost batch normalization as one fused autograd op, inputs (input, weight?, bias?): the batch is cut along its first
/// axis into consecutive chunks, and each chunk is batch-normalized by its own statistics, exactly as
/// <see cref="F.BatchNorm(Tensor, Tensor?, Tensor?, Tensor?, Tensor?, bool, double, double, int)"/> on that chunk,
/// updating the running statistics chunk after chunk. A chunk of whole samples is a contiguous block of the
/// [outer, channels, inner] view (the batch axis is outermost in both layouts), so each chunk runs the batch-norm
/// kernels on a slice, without copies; the backward is batch norm's closed form per chunk (docs/derivations/batchnorm.md),
/// the weight and bias gradients summed over the chunks.
/// </summary>
internal sealed class GhostBatchNormFunction(bool relu) : AffineNormFunction
{
    private Tensor input = null!;
    private Tensor? weight;
    private Tensor? bias;
    private int[] chunkSamples = [];
    private double[][] means = [];
    private double[][] invStds = [];
    private int rowsPerSample, channels, inner;

    public override string Name => relu ? "GhostBatchNormReLU" : "GhostBatchNorm";

    /// <summary>
    /// Normalizes chunk k (<paramref name="chunkSamples"/>[k] samples) with its batch statistics and moves the running
    /// statistics (when given) by <paramref name="factors"/>[k]. The input is the [N · rowsPerSample, channels, inner]
    /// view. Arguments are validated by the caller.
    /// </summary>
    public Tensor Forward(
        Tensor input, Tensor? weight, Tensor? bias, Tensor? runningMean, Tensor? runningVar,
        int[] chunkSamples, double[] factors, double eps, int rowsPerSample, int channels, int inner)
    {
        this.input = input;
        this.weight = weight;
        this.bias = bias;
        this.chunkSamples = chunkSamples;
        (this.rowsPerSample, this.channels, this.inner) = (rowsPerSample, channels, inner);
        means = new double[chunkSamples.Length][];
        invStds = new double[chunkSamples.Length][];
        var output = Tensor.Uninitialized(input.Shape);   // the chunks cover every element
        ReadOnlySpan<float> w = weight is null ? default : weight.Data;
        ReadOnlySpan<float> b = bias is null ? default : bias.Data;
        int start = 0;
        for (int k = 0; k < chunkSamples.Length; k++)
        {
            int outer = chunkSamples[k] * rowsPerSample;
            int length = outer * channels * inner;
            means[k] = new double[channels];
            invStds[k] = new double[channels];
            BatchNormFast.ForwardTraining(
                input.Data.Slice(start, length), outer, channels, inner, w, b, eps, factors[k],
                runningMean is null ? default : runningMean.AsSpan(), runningVar is null ? default : runningVar.AsSpan(),
                means[k], invStds[k], output.AsSpan().Slice(start, length), relu);
            start += length;
        }
        return RecordAffine(output, input, weight, bias);
    }

    public override Tensor?[] Backward(Tensor gradOutput)
    {
        var gradInput = NeedsInputGrad[0] ? Tensor.Uninitialized(input.Shape) : null;   // the chunks cover every element
        bool needsWeight = NeedsWeightGrad;
        bool needsBias = NeedsBiasGrad;
        var chunkGradWeight = new float[needsWeight ? channels : 0];
        var chunkGradBias = new float[needsBias ? channels : 0];
        var sumGradWeight = new double[channels];
        var sumGradBias = new double[channels];
        int start = 0;
        for (int k = 0; k < chunkSamples.Length; k++)
        {
            int outer = chunkSamples[k] * rowsPerSample;
            int length = outer * channels * inner;
            BatchNormFast.Backward(
                input.Data.Slice(start, length), gradOutput.Data.Slice(start, length), outer, channels, inner,
                weight is null ? default : weight.Data, bias is null ? default : bias.Data, means[k], invStds[k], training: true,
                gradInput is null ? default : gradInput.AsSpan().Slice(start, length), chunkGradWeight, chunkGradBias, relu);
            for (int c = 0; c < chunkGradWeight.Length; c++)
            {
                sumGradWeight[c] += chunkGradWeight[c];
            }
            for (int c = 0; c < chunkGradBias.Length; c++)
            {
                sumGradBias[c] += chunkGradBias[c];
            }
            start += length;
        }
        return AffineGradients(gradInput,
            needsWeight ? Tensor.FromArray(Array.ConvertAll(sumGradWeight, v => (float)v), channels) : null,
            needsBias ? Tensor.FromArray(Array.ConvertAll(sumGradBias, v => (float)v), channels) : null);
    }
}
