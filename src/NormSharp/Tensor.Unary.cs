using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using NormSharp.Autograd;
using NormSharp.Kernels;

namespace NormSharp;

public partial class Tensor
{
    /// <summary>e^x elementwise.</summary>
    public Tensor Exp() => new UnaryFunction(UnaryKind.Exp).Forward(this);

    /// <summary>Natural logarithm elementwise.</summary>
    public Tensor Log() => new UnaryFunction(UnaryKind.Log).Forward(this);

    /// <summary>Square root elementwise.</summary>
    public Tensor Sqrt() => new UnaryFunction(UnaryKind.Sqrt).Forward(this);

    /// <summary>|x| elementwise (gradient 0 at 0, as PyTorch).</summary>
    public Tensor Abs() => new UnaryFunction(UnaryKind.Abs).Forward(this);

    /// <summary>x^exponent elementwise.</summary>
    public Tensor Pow(float exponent) => new UnaryFunction(UnaryKind.Pow, exponent).Forward(this);

    /// <summary>max(x, 0) elementwise.</summary>
    public Tensor Relu() => new UnaryFunction(UnaryKind.Relu).Forward(this);

    /// <summary>1 / (1 + e^-x) elementwise.</summary>
    public Tensor Sigmoid() => new UnaryFunction(UnaryKind.Sigmoid).Forward(this);

    /// <summary>tanh(x) elementwise.</summary>
    public Tensor Tanh() => new UnaryFunction(UnaryKind.Tanh).Forward(this);

    /// <summary>GELU, exact form x * Φ(x) with the normal CDF (PyTorch's default, approximate='none').</summary>
    public Tensor Gelu() => new UnaryFunction(UnaryKind.Gelu).Forward(this);

    private enum UnaryKind
    {
        Exp,
        Log,
        Sqrt,
        Abs,
        Pow,
        Relu,
        Sigmoid,
        Tanh,
        Gelu,
    }

    private sealed unsafe class UnaryFunction(UnaryKind kind, float exponent = 0) : Function
    {
        public override string Name => kind.ToString();

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public Tensor Forward(Tensor x)
        {
            var output = Uninitialized(x.shape);
            if (kind == UnaryKind.Relu && AnyRequiresGrad(x))
            {
                // The backward needs only where x > 0: a bit per element, kept instead of the output.
                var positive = Uninitialized((Activation.MaskBytes(x.Length) + sizeof(float) - 1) / sizeof(float));
                Activation.ReluForward(x.Data, output.AsSpan(), MaskOf(positive, x.Length));
                SaveForBackward(positive);
                return Record(output, x);
            }
            if (kind == UnaryKind.Gelu)
            {
                var src = x.Data;
                var dst = output.AsSpan();
                for (int i = 0; i < src.Length; i++)
                {
                    dst[i] = (float)(src[i] * SpecialFunctions.NormalCdf(src[i]));
                }
            }
            else
            {
                fixed (float* source = x.Data, destination = output.AsSpan())
                {
                    var (input, result) = ((nint)source, (nint)destination);
                    Elementwise.ForChunks(x.Length, (start, count) =>
                        Apply(new ReadOnlySpan<float>((float*)input + start, count), new Span<float>((float*)result + start, count)));
                }
            }
            // The backward reads the output where the derivative is cheaper in it (as PyTorch), else the input; keeping
            // only that one lets the other's memory go before the backward.
            SaveForBackward(UsesOutput ? output : x);
            return Record(output, x);
        }

        private bool UsesOutput => kind is UnaryKind.Exp or UnaryKind.Sqrt or UnaryKind.Sigmoid or UnaryKind.Tanh;

        private void Apply(ReadOnlySpan<float> src, Span<float> dst)
        {
            switch (kind)
            {
                case UnaryKind.Exp: TensorPrimitives.Exp(src, dst); break;
                case UnaryKind.Log: TensorPrimitives.Log(src, dst); break;
                case UnaryKind.Sqrt: TensorPrimitives.Sqrt(src, dst); break;
                case UnaryKind.Abs: TensorPrimitives.Abs(src, dst); break;
                case UnaryKind.Pow: TensorPrimitives.Pow(src, exponent, dst); break;
                case UnaryKind.Relu: TensorPrimitives.Max(src, 0f, dst); break;
                case UnaryKind.Sigmoid: TensorPrimitives.Sigmoid(src, dst); break;
                case UnaryKind.Tanh: TensorPrimitives.Tanh(src, dst); break;
                default: throw new InvalidOperationException(kind.ToString());
            }
        }

        public override Tensor?[] Backward(Tensor gradOutput)
        {
            var saved = SavedTensors[0];
            var gradInput = Uninitialized(gradOutput.shape);
            if (kind == UnaryKind.Relu)
            {
                var positive = MaskOf(saved, gradInput.Length);
                // A uniform gradient (of a full sum) is not read from memory.
                if (gradOutput.UniformValue is float value)
                {
                    Activation.ReluBackward(positive, value, gradInput.AsSpan());
                }
                else
                {
                    Activation.ReluBackward(positive, gradOutput.Data, gradInput.AsSpan());
                }
                // Nothing else holds the mask and a backward runs once: its storage serves the next tensor at once.
                saved.Dispose();
                return [gradInput];
            }
            fixed (float* values = saved.Data, g = gradOutput.Data, dx = gradInput.AsSpan())
            {
                var (pv, pg, pdx) = ((nint)values, (nint)g, (nint)dx);
                Elementwise.ForChunks(saved.Length, (start, count) => LocalBackward(
                    new ReadOnlySpan<float>((float*)pv + start, count), new ReadOnlySpan<float>((float*)pg + start, count),
                    new Span<float>((float*)pdx + start, count)));
            }
            return [gradInput];
        }

        // The ReLU mask's bytes, stored in a float tensor so that its memory comes from (and goes back to) the pool.
        private static Span<byte> MaskOf(Tensor positive, int length) =>
            System.Runtime.InteropServices.MemoryMarshal.AsBytes(positive.AsSpan())[..Activation.MaskBytes(length)];

        // dx = g · f'(x), from the saved values: y = f(x) where UsesOutput, else x.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void LocalBackward(ReadOnlySpan<float> saved, ReadOnlySpan<float> g, Span<float> dx)
        {
            ReadOnlySpan<float> x = saved, y = saved;
            switch (kind)
            {
                case UnaryKind.Exp:
                    TensorPrimitives.Multiply(g, y, dx);
                    return;
                case UnaryKind.Log:
                    TensorPrimitives.Divide(g, x, dx);
                    return;
                case UnaryKind.Sqrt:
                    TensorPrimitives.Divide(g, y, dx);
                    TensorPrimitives.Multiply(dx, 0.5f, dx);
                    return;
                case UnaryKind.Sigmoid:
                    // y (1 − y)
                    TensorPrimitives.Subtract(1f, y, dx);
                    TensorPrimitives.Multiply(dx, y, dx);
                    TensorPrimitives.Multiply(dx, g, dx);
                    return;
                case UnaryKind.Tanh:
                    // 1 − y²
                    TensorPrimitives.Multiply(y, y, dx);
                    TensorPrimitives.Subtract(1f, dx, dx);
                    TensorPrimitives.Multiply(dx, g, dx);
                    return;
            }
            for (int i = 0; i < dx.Length; i++)
            {
                double local = kind switch
                {
                    UnaryKind.Abs => Math.Sign(x[i]),
                    UnaryKind.Pow => exponent * Math.Pow(x[i], exponent - 1),
                    UnaryKind.Gelu => SpecialFunctions.NormalCdf(x[i]) + x[i] * SpecialFunctions.NormalPdf(x[i]),
                    _ => throw new InvalidOperationException(kind.ToString()),
                };
                dx[i] = (float)(g[i] * local);
            }
        }
    }
}
