using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
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

    internal struct AddOp : Broadcast.IBinaryRows
    {
        public static float Apply(float a, float b) => a + b;

        public static void Apply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> destination) => TensorPrimitives.Add(a, b, destination);

        public static void Apply(ReadOnlySpan<float> a, float b, Span<float> destination) => TensorPrimitives.Add(a, b, destination);

        public static void Apply(float a, ReadOnlySpan<float> b, Span<float> destination) => TensorPrimitives.Add(b, a, destination);
    }

    internal struct SubtractOp : Broadcast.IBinaryRows
    {
        public static float Apply(float a, float b) => a - b;

        public static void Apply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> destination) => TensorPrimitives.Subtract(a, b, destination);

        public static void Apply(ReadOnlySpan<float> a, float b, Span<float> destination) => TensorPrimitives.Subtract(a, b, destination);

        public static void Apply(float a, ReadOnlySpan<float> b, Span<float> destination) => TensorPrimitives.Subtract(a, b, destination);
    }

    internal struct MultiplyOp : Broadcast.IBinaryRows
    {
        public static float Apply(float a, float b) => a * b;

        public static void Apply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> destination) => TensorPrimitives.Multiply(a, b, destination);

        public static void Apply(ReadOnlySpan<float> a, float b, Span<float> destination) => TensorPrimitives.Multiply(a, b, destination);

        public static void Apply(float a, ReadOnlySpan<float> b, Span<float> destination) => TensorPrimitives.Multiply(b, a, destination);
    }

    internal struct DivideOp : Broadcast.IBinaryRows
    {
        public static float Apply(float a, float b) => a / b;

        public static void Apply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> destination) => TensorPrimitives.Divide(a, b, destination);

        public static void Apply(ReadOnlySpan<float> a, float b, Span<float> destination) => TensorPrimitives.Divide(a, b, destination);

        public static void Apply(float a, ReadOnlySpan<float> b, Span<float> destination) => TensorPrimitives.Divide(a, b, destination);
    }

    /// <summary>a op b with broadcasting; the backward reduces each gradient back to its operand's shape.</summary>
    private sealed class BinaryFunction<TOp> : Function
        where TOp : struct, Broadcast.IBinaryRows
    {
        public override string Name => typeof(TOp).Name.Replace("Op", "", StringComparison.Ordinal);

        public Tensor Forward(Tensor a, Tensor b)
        {
            ArgumentNullException.ThrowIfNull(a);
            ArgumentNullException.ThrowIfNull(b);
            var output = Apply(a, b);
            SaveForBackward(a, b);
            return Record(output, a, b);
        }

        public override Tensor?[] Backward(Tensor gradOutput)
        {
            var a = SavedTensors[0];
            var b = SavedTensors[1];
            Tensor? gradA = null, gradB = null;
            // Each gradient is reduced to its operand's shape; where the local derivative is the other operand and that
            // operand has the output's shape, the product is summed on the fly instead of being materialized.
            if (NeedsInputGrad[0])
            {
                // d(a op b)/da: 1 for + and -, b for *, 1/b for /.
                gradA = typeof(TOp) == typeof(MultiplyOp) ? ProductReducedTo(gradOutput, b, a.shape)
                    : typeof(TOp) == typeof(DivideOp) ? BinaryFunction<DivideOp>.Apply(gradOutput, b).ReducedTo(a.shape, null, 1f)
                    : gradOutput.ReducedTo(a.shape, null, 1f);
            }
            if (NeedsInputGrad[1])
            {
                // d(a op b)/db: 1 for +, -1 for -, a for *, -a/b^2 for /.
                gradB = typeof(TOp) == typeof(AddOp) ? gradOutput.ReducedTo(b.shape, null, 1f)
                    : typeof(TOp) == typeof(SubtractOp) ? gradOutput.ReducedTo(b.shape, null, -1f)
                    : typeof(TOp) == typeof(MultiplyOp) ? ProductReducedTo(gradOutput, a, b.shape)
                    : BinaryFunction<MultiplyOp>.Apply(gradOutput, BinaryFunction<DivideOp>.Apply(a, b * b)).ReducedTo(b.shape, null, -1f);
            }
            return [gradA, gradB];
        }

        /// <summary>a op b with broadcasting, outside autograd.</summary>
        public static Tensor Apply(Tensor a, Tensor b)
        {
            var shape = ShapeUtil.Broadcast(a.shape, b.shape);
            var output = Uninitialized(shape);   // the kernel writes every element
            BroadcastFast.Binary<TOp>(a.Data, Broadcast.Strides(a.shape, shape), b.Data, Broadcast.Strides(b.shape, shape), shape, output.AsSpan());
            return output;
        }

        // Σ (gradOutput · other) over the dimensions that broadcasting added to a tensor of targetShape.
        private static Tensor ProductReducedTo(Tensor gradOutput, Tensor other, int[] targetShape)
        {
            if (!ShapeUtil.Equal(other.shape, gradOutput.shape))
            {
                return BinaryFunction<MultiplyOp>.Apply(gradOutput, other).ReducedTo(targetShape, null, 1f);
            }
            // A uniform gradient (of a full sum) scales the other operand: nothing full-size is read but that operand.
            return gradOutput.UniformValue is float value
                ? other.ReducedTo(targetShape, null, value)
                : gradOutput.ReducedTo(targetShape, other, 1f);
        }
    }

    /// <summary>
    /// scale · Σ of this tensor (times <paramref name="factor"/>, of this shape, when given) over the dimensions that
    /// broadcasting to this shape added to <paramref name="targetShape"/>: the adjoint of broadcasting, for backward passes
    /// (no autograd). Returns this tensor itself when nothing is to be done.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal Tensor ReducedTo(int[] targetShape, Tensor? factor, float scale)
    {
        if (factor is null && scale == 1f && ShapeUtil.Equal(shape, targetShape))
        {
            return this;
        }
        if (UniformValue is float value)
        {
            // Σ value · factor = value · Σ factor; without a factor, value times the number of elements summed.
            return factor is not null
                ? factor.ReducedTo(targetShape, null, value * scale)
                : Uniform(value * scale * (Length / Math.Max(1, (int)ShapeUtil.Count(targetShape))), targetShape);
        }
        var reduced = new bool[Rank];
        int lead = Rank - targetShape.Length;
        for (int d = 0; d < Rank; d++)
        {
            reduced[d] = d < lead || (targetShape[d - lead] == 1 && shape[d] != 1);
        }
        var result = Uninitialized(targetShape);
        Reduction.Sum(Data, factor is null ? default : factor.Data, shape, reduced, scale, result.AsSpan());
        return result;
    }
}
