using System.Numerics.Tensors;
using NormSharp.Autograd;
using NormSharp.Kernels;

namespace NormSharp;

public partial class Tensor
{
    /// <summary>Elementwise sum with broadcasting.</summary>
    public static Tensor operator +(Tensor a, Tensor b) => new BinaryFunction<AddOp>().Forward(a, b);

    /// <summary>Elementwise difference with broadcasting.</summary>
    public static Tensor operator -(Tensor a, Tensor b) => new BinaryFunction<SubtractOp>().Forward(a, b);

    /// <summary>Elementwise product with broadcasting.</summary>
    public static Tensor operator *(Tensor a, Tensor b) => new BinaryFunction<MultiplyOp>().Forward(a, b);

    /// <summary>Elementwise quotient with broadcasting.</summary>
    public static Tensor operator /(Tensor a, Tensor b) => new BinaryFunction<DivideOp>().Forward(a, b);

    public static Tensor operator +(Tensor a, float b) => a + Scalar(b);

    public static Tensor operator +(float a, Tensor b) => Scalar(a) + b;

    public static Tensor operator -(Tensor a, float b) => a - Scalar(b);

    public static Tensor operator -(float a, Tensor b) => Scalar(a) - b;

    public static Tensor operator *(Tensor a, float b) => a * Scalar(b);

    public static Tensor operator *(float a, Tensor b) => Scalar(a) * b;

    public static Tensor operator /(Tensor a, float b) => a / Scalar(b);

    public static Tensor operator /(float a, Tensor b) => Scalar(a) / b;

    public static Tensor operator -(Tensor a) => a * -1f;

    internal struct AddOp : Broadcast.IBinary
    {
        public static float Apply(float a, float b) => a + b;
    }

    internal struct SubtractOp : Broadcast.IBinary
    {
        public static float Apply(float a, float b) => a - b;
    }

    internal struct MultiplyOp : Broadcast.IBinary
    {
        public static float Apply(float a, float b) => a * b;
    }

    internal struct DivideOp : Broadcast.IBinary
    {
        public static float Apply(float a, float b) => a / b;
    }

    /// <summary>a op b with broadcasting; the backward reduces each gradient back to its operand's shape.</summary>
    private sealed class BinaryFunction<TOp> : Function
        where TOp : struct, Broadcast.IBinary
    {
        public override string Name => typeof(TOp).Name.Replace("Op", "", StringComparison.Ordinal);

        public Tensor Forward(Tensor a, Tensor b)
        {
            ArgumentNullException.ThrowIfNull(a);
            ArgumentNullException.ThrowIfNull(b);
            var shape = ShapeUtil.Broadcast(a.shape, b.shape);
            var output = Uninitialized(shape);   // both paths write every element
            if (ShapeUtil.Equal(a.shape, b.shape))
            {
                SameShape(a.Data, b.Data, output.AsSpan());
            }
            else
            {
                Broadcast.Binary<TOp>(a.Data, Broadcast.Strides(a.shape, shape), b.Data, Broadcast.Strides(b.shape, shape), shape, output.AsSpan());
            }
            SaveForBackward(a, b);
            return Record(output, a, b);
        }

        private static void SameShape(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> destination)
        {
            if (typeof(TOp) == typeof(AddOp))
            {
                TensorPrimitives.Add(a, b, destination);
            }
            else if (typeof(TOp) == typeof(SubtractOp))
            {
                TensorPrimitives.Subtract(a, b, destination);
            }
            else if (typeof(TOp) == typeof(MultiplyOp))
            {
                TensorPrimitives.Multiply(a, b, destination);
            }
            else
            {
                TensorPrimitives.Divide(a, b, destination);
            }
        }

        public override Tensor?[] Backward(Tensor gradOutput)
        {
            var a = SavedTensors[0];
            var b = SavedTensors[1];
            Tensor? gradA = null, gradB = null;
            if (NeedsInputGrad[0])
            {
                // d(a op b)/da: 1 for + and -, b for *, 1/b for /.
                Tensor local = typeof(TOp) == typeof(MultiplyOp) ? gradOutput * b
                    : typeof(TOp) == typeof(DivideOp) ? gradOutput / b
                    : gradOutput;
                gradA = local.SumToShape(a.shape);
            }
            if (NeedsInputGrad[1])
            {
                // d(a op b)/db: 1 for +, -1 for -, a for *, -a/b^2 for /.
                Tensor local = typeof(TOp) == typeof(AddOp) ? gradOutput
                    : typeof(TOp) == typeof(SubtractOp) ? gradOutput * -1f
                    : typeof(TOp) == typeof(MultiplyOp) ? gradOutput * a
                    : gradOutput * a / (b * b) * -1f;
                gradB = local.SumToShape(b.shape);
            }
            return [gradA, gradB];
        }
    }

    /// <summary>Sums a broadcast result back to <paramref name="targetShape"/> (no autograd; used by backward passes).</summary>
    internal Tensor SumToShape(int[] targetShape)
    {
        if (ShapeUtil.Equal(shape, targetShape))
        {
            return this;
        }
        var result = Zeros(targetShape);
        Broadcast.SumTo(Data, shape, Broadcast.Strides(targetShape, shape), result.AsSpan());
        return result;
    }
}
