using System.Runtime.CompilerServices;
using NormSharp.Autograd;

namespace NormSharp.Functional;

public static partial class F
{
    /// <summary>
    /// Leaky ReLU (PyTorch's <c>leaky_relu</c>): y = x for x &gt; 0, else negativeSlope · x. The gradient is 1 for
    /// x &gt; 0 and negativeSlope otherwise (x = 0 included, as PyTorch).
    /// </summary>
    /// <param name="input">Any shape.</param>
    /// <param name="negativeSlope">The slope for negative inputs, default 0.01.</param>
    public static Tensor LeakyRelu(Tensor input, double negativeSlope = 0.01)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new PointwiseFunction(PointwiseKind.LeakyRelu, (float)negativeSlope).Forward(input);
    }

    /// <summary>SiLU (swish, PyTorch's <c>silu</c>): y = x · σ(x); gradient σ(x) · (1 + x · (1 − σ(x))).</summary>
    /// <param name="input">Any shape.</param>
    public static Tensor Silu(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new PointwiseFunction(PointwiseKind.Silu, 0).Forward(input);
    }

    private enum PointwiseKind
    {
        LeakyRelu,
        Silu,
    }

    private sealed class PointwiseFunction(PointwiseKind kind, float slope) : Function
    {
        public override string Name => kind.ToString();

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public Tensor Forward(Tensor input)
        {
            var output = Tensor.Zeros(input.Shape);
            var x = input.Data;
            var y = output.AsSpan();
            for (int i = 0; i < y.Length; i++)
            {
                y[i] = kind == PointwiseKind.LeakyRelu
                    ? (x[i] > 0 ? x[i] : slope * x[i])
                    : (float)(x[i] * Sigma(x[i]));
            }
            SaveForBackward(input);
            return Record(output, input);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override Tensor?[] Backward(Tensor gradOutput)
        {
            var x = SavedTensors[0].Data;
            var g = gradOutput.Data;
            var gradInput = Tensor.Zeros(gradOutput.Shape);
            var dx = gradInput.AsSpan();
            for (int i = 0; i < dx.Length; i++)
            {
                double sigma = Sigma(x[i]);
                double local = kind == PointwiseKind.LeakyRelu
                    ? (x[i] > 0 ? 1 : slope)
                    : sigma * (1 + x[i] * (1 - sigma));
                dx[i] = (float)(g[i] * local);
            }
            return [gradInput];
        }

        private static double Sigma(float x) => 1 / (1 + Math.Exp(-(double)x));
    }
}
