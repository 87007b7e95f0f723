using System.Numerics.Tensors;
using NormSharp.Autograd;

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

    private sealed class UnaryFunction(UnaryKind kind, float exponent = 0) : Function
    {
        public override string Name => kind.ToString();

        public Tensor Forward(Tensor x)
        {
            var output = Uninitialized(x.shape);
            var src = x.Data;
            var dst = output.AsSpan();
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
                case UnaryKind.Gelu:
                    for (int i = 0; i < src.Length; i++)
                    {
                        dst[i] = (float)(src[i] * SpecialFunctions.NormalCdf(src[i]));
                    }
                    break;
                default: throw new InvalidOperationException(kind.ToString());
            }
            SaveForBackward(x, output);
            return Record(output, x);
        }

        public override Tensor?[] Backward(Tensor gradOutput)
        {
            var x = SavedTensors[0].Data;
            var y = SavedTensors[1].Data;
            var g = gradOutput.Data;
            var gradInput = Uninitialized(gradOutput.shape);
            var dx = gradInput.AsSpan();
            for (int i = 0; i < dx.Length; i++)
            {
                double local = kind switch
                {
                    UnaryKind.Exp => y[i],
                    UnaryKind.Log => 1.0 / x[i],
                    UnaryKind.Sqrt => 0.5 / y[i],
                    UnaryKind.Abs => Math.Sign(x[i]),
                    UnaryKind.Pow => exponent * Math.Pow(x[i], exponent - 1),
                    UnaryKind.Relu => x[i] > 0 ? 1 : 0,
                    UnaryKind.Sigmoid => y[i] * (1.0 - y[i]),
                    UnaryKind.Tanh => 1.0 - (double)y[i] * y[i],
                    UnaryKind.Gelu => SpecialFunctions.NormalCdf(x[i]) + x[i] * SpecialFunctions.NormalPdf(x[i]),
                    _ => throw new InvalidOperationException(kind.ToString()),
                };
                dx[i] = (float)(g[i] * local);
            }
            return [gradInput];
        }
    }
}
