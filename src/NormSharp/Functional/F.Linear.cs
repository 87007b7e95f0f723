using System.Runtime.CompilerServices;
using NormSharp.Autograd;
using NormSharp.Kernels;

namespace NormSharp.Functional;

public static partial class F
{
    /// <summary>
    /// y = x · Wᵀ + b. Shapes: input [*, inFeatures], weight [outFeatures, inFeatures], bias [outFeatures] or null,
    /// output [*, outFeatures].
    /// </summary>
    /// <exception cref="ArgumentException">The input's last dimension is not inFeatures, or the bias has the wrong length.</exception>
    public static Tensor Linear(Tensor input, Tensor weight, Tensor? bias = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.Rank != 2)
        {
            throw new ArgumentException($"Linear weight must be 2-D [outFeatures, inFeatures], got shape {ShapeUtil.Format(weight.ShapeSpan)}.", nameof(weight));
        }
        int outFeatures = weight.Size(0), inFeatures = weight.Size(1);
        if (input.Rank < 1 || input.Size(-1) != inFeatures)
        {
            throw new ArgumentException(
                $"Linear expected input with last dimension {inFeatures} (shape [*, {inFeatures}]), got shape {ShapeUtil.Format(input.ShapeSpan)}.", nameof(input));
        }
        if (bias is not null && (bias.Rank != 1 || bias.Size(0) != outFeatures))
        {
            throw new ArgumentException($"Linear bias must have shape [{outFeatures}], got {ShapeUtil.Format(bias.ShapeSpan)}.", nameof(bias));
        }
        return new LinearFunction().Forward(input, weight, bias);
    }

    private sealed class LinearFunction : Function
    {
        private bool hasBias;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public Tensor Forward(Tensor input, Tensor weight, Tensor? bias)
        {
            int outFeatures = weight.Size(0), inFeatures = weight.Size(1);
            int rows = input.Length / Math.Max(1, inFeatures);
            if (inFeatures == 0)
            {
                rows = ShapeUtil.Product(input.ShapeSpan, 0, input.Rank - 1);
            }
            int[] outShape = [.. input.ShapeSpan[..^1], outFeatures];
            var output = Tensor.Uninitialized(outShape);   // the bias rows or the GEMM write every element
            var y = output.AsSpan();
            if (bias is not null)
            {
                // Start from the bias in every row, then accumulate x · Wᵀ.
                var b = bias.Data;
                for (int r = 0; r < rows; r++)
                {
                    b.CopyTo(y.Slice(r * outFeatures, outFeatures));
                }
            }
            // y[rows, out] (+)= x[rows, in] · W[out, in]ᵀ
            Gemm.Multiply(input.Data, weight.Data, rows, outFeatures, inFeatures, false, true, bias is not null, y);
            hasBias = bias is not null;
            SaveForBackward(input, weight);
            return bias is null ? Record(output, input, weight) : Record(output, input, weight, bias);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override Tensor?[] Backward(Tensor gradOutput)
        {
            var input = SavedTensors[0];
            var weight = SavedTensors[1];
            int outFeatures = weight.Size(0), inFeatures = weight.Size(1);
            int rows = ShapeUtil.Product(input.ShapeSpan, 0, input.Rank - 1);
            var dy = gradOutput.Data;
            Tensor? gradInput = null, gradWeight = null, gradBias = null;
            if (NeedsInputGrad[0])
            {
                // dx[rows, in] = dy[rows, out] · W[out, in]
                gradInput = Tensor.Uninitialized(input.Shape);
                Gemm.Multiply(dy, weight.Data, rows, inFeatures, outFeatures, false, false, false, gradInput.AsSpan());
            }
            if (NeedsInputGrad[1])
            {
                // dW[out, in] = dy[rows, out]ᵀ · x[rows, in]
                gradWeight = Tensor.Uninitialized(outFeatures, inFeatures);
                Gemm.Multiply(dy, input.Data, outFeatures, inFeatures, rows, true, false, false, gradWeight.AsSpan());
            }
            if (hasBias && NeedsInputGrad[2])
            {
                // db[out] = Σ_rows dy
                var sums = new double[outFeatures];
                for (int r = 0; r < rows; r++)
                {
                    var row = dy.Slice(r * outFeatures, outFeatures);
                    for (int o = 0; o < outFeatures; o++)
                    {
                        sums[o] += row[o];
                    }
                }
                gradBias = Tensor.FromArray(Array.ConvertAll(sums, s => (float)s), outFeatures);
            }
            return hasBias ? [gradInput, gradWeight, gradBias] : [gradInput, gradWeight];
        }
    }
}
