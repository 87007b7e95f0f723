using NormSharp.Autograd;
using NormSharp.Kernels;

namespace NormSharp;

public partial class Tensor
{
    /// <summary>1 where this == <paramref name="other"/>, else 0, with broadcasting (PyTorch's <c>eq</c>; a float mask, not bool). Not differentiable.</summary>
    /// <exception cref="ArgumentException">The shapes cannot be broadcast together (the message names both).</exception>
    public Tensor Eq(Tensor other) => Compare<EqualOp>(other);

    /// <summary>1 where this != <paramref name="other"/>, else 0 (PyTorch's <c>ne</c>; NaN != NaN is 1).</summary>
    public Tensor Ne(Tensor other) => Compare<NotEqualOp>(other);

    /// <summary>1 where this &gt; <paramref name="other"/>, else 0 (PyTorch's <c>gt</c>).</summary>
    public Tensor Gt(Tensor other) => Compare<GreaterOp>(other);

    /// <summary>1 where this &gt;= <paramref name="other"/>, else 0 (PyTorch's <c>ge</c>).</summary>
    public Tensor Ge(Tensor other) => Compare<GreaterOrEqualOp>(other);

    /// <summary>1 where this &lt; <paramref name="other"/>, else 0 (PyTorch's <c>lt</c>).</summary>
    public Tensor Lt(Tensor other) => Compare<LessOp>(other);

    /// <summary>1 where this &lt;= <paramref name="other"/>, else 0 (PyTorch's <c>le</c>).</summary>
    public Tensor Le(Tensor other) => Compare<LessOrEqualOp>(other);

    /// <summary>1 where this == <paramref name="value"/>, else 0.</summary>
    public Tensor Eq(float value) => Eq(Scalar(value));

    /// <summary>1 where this != <paramref name="value"/>, else 0.</summary>
    public Tensor Ne(float value) => Ne(Scalar(value));

    /// <summary>1 where this &gt; <paramref name="value"/>, else 0.</summary>
    public Tensor Gt(float value) => Gt(Scalar(value));

    /// <summary>1 where this &gt;= <paramref name="value"/>, else 0.</summary>
    public Tensor Ge(float value) => Ge(Scalar(value));

    /// <summary>1 where this &lt; <paramref name="value"/>, else 0.</summary>
    public Tensor Lt(float value) => Lt(Scalar(value));

    /// <summary>1 where this &lt;= <paramref name="value"/>, else 0.</summary>
    public Tensor Le(float value) => Le(Scalar(value));

    /// <summary>
    /// Elementwise choice (PyTorch's <c>torch.where</c>): result = x where <paramref name="condition"/> is nonzero,
    /// y elsewhere, the three broadcast together. Gradients flow to x where the condition holds and to y elsewhere
    /// (summed over broadcast dimensions); the condition gets none.
    /// </summary>
    /// <exception cref="ArgumentException">The shapes cannot be broadcast together (the message names them).</exception>
    public static Tensor Where(Tensor condition, Tensor x, Tensor y)
    {
        ArgumentNullException.ThrowIfNull(condition);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        return new WhereFunction().Forward(condition, x, y);
    }

    /// <summary>
    /// Limits every element to [<paramref name="min"/>, <paramref name="max"/>] (PyTorch's <c>clamp</c>):
    /// y = min(max(x, min), max), so min &gt; max gives max everywhere; NaN stays NaN. Either bound may be null
    /// (no limit on that side) but not both. The gradient passes where min &lt;= x &lt;= max and is 0 elsewhere.
    /// </summary>
    /// <exception cref="ArgumentException">Both bounds are null.</exception>
    public Tensor Clamp(float? min = null, float? max = null)
    {
        if (min is null && max is null)
        {
            throw new ArgumentException("Clamp needs at least one of min or max, got neither.");
        }
        return new ClampFunction(min ?? float.NegativeInfinity, max ?? float.PositiveInfinity).Forward(this);
    }

    private Tensor Compare<TOp>(Tensor other)
        where TOp : struct, Broadcast.IBinary
    {
        ArgumentNullException.ThrowIfNull(other);
        var outShape = ShapeUtil.Broadcast(shape, other.shape);
        var output = Uninitialized(outShape);
        Broadcast.Binary<TOp>(Data, Broadcast.Strides(shape, outShape), other.Data, Broadcast.Strides(other.shape, outShape), outShape, output.AsSpan());
        return output;
    }

    /// <summary>This tensor's values repeated to <paramref name="outShape"/> (a broadcast copy, no autograd).</summary>
    internal float[] Expanded(int[] outShape)
    {
        var strides = Broadcast.Strides(shape, outShape);
        var values = new float[ShapeUtil.Count(outShape)];
        Broadcast.Binary<FirstOp>(Data, strides, Data, strides, outShape, values);
        return values;
    }

    private struct EqualOp : Broadcast.IBinary
    {
        public static float Apply(float a, float b) => a == b ? 1f : 0f;
    }

    private struct NotEqualOp : Broadcast.IBinary
    {
        public static float Apply(float a, float b) => a != b ? 1f : 0f;
    }

    private struct GreaterOp : Broadcast.IBinary
    {
        public static float Apply(float a, float b) => a > b ? 1f : 0f;
    }

    private struct GreaterOrEqualOp : Broadcast.IBinary
    {
        public static float Apply(float a, float b) => a >= b ? 1f : 0f;
    }

    private struct LessOp : Broadcast.IBinary
    {
        public static float Apply(float a, float b) => a < b ? 1f : 0f;
    }

    private struct LessOrEqualOp : Broadcast.IBinary
    {
        public static float Apply(float a, float b) => a <= b ? 1f : 0f;
    }

    private struct FirstOp : Broadcast.IBinary
    {
        public static float Apply(float a, float b) => a;
    }

    private sealed class WhereFunction : Function
    {
        private float[] mask = [];
        private int[] xShape = [];
        private int[] yShape = [];

        public override string Name => "Where";

        public Tensor Forward(Tensor condition, Tensor x, Tensor y)
        {
            var outShape = ShapeUtil.Broadcast(ShapeUtil.Broadcast(condition.shape, x.shape), y.shape);
            mask = condition.Expanded(outShape);
            float[] left = x.Expanded(outShape), right = y.Expanded(outShape);
            var output = Uninitialized(outShape);
            var dst = output.AsSpan();
            for (int i = 0; i < dst.Length; i++)
            {
                dst[i] = mask[i] != 0 ? left[i] : right[i];
            }
            xShape = x.shape;
            yShape = y.shape;
            return Record(output, x, y);
        }

        public override Tensor?[] Backward(Tensor gradOutput) =>
        [
            NeedsInputGrad[0] ? Masked(gradOutput, whenTrue: true).ReducedTo(xShape, null, 1f) : null,
            NeedsInputGrad[1] ? Masked(gradOutput, whenTrue: false).ReducedTo(yShape, null, 1f) : null,
        ];

        private Tensor Masked(Tensor gradOutput, bool whenTrue)
        {
            var result = Uninitialized(gradOutput.shape);
            var g = gradOutput.Data;
            var dst = result.AsSpan();
            for (int i = 0; i < dst.Length; i++)
            {
                dst[i] = (mask[i] != 0) == whenTrue ? g[i] : 0f;
            }
            return result;
        }
    }

    private sealed class ClampFunction(float min, float max) : Function
    {
        public override string Name => "Clamp";

        public Tensor Forward(Tensor x)
        {
            var output = Uninitialized(x.shape);
            var src = x.Data;
            var dst = output.AsSpan();
            for (int i = 0; i < dst.Length; i++)
            {
                float v = src[i];
                dst[i] = float.IsNaN(v) ? v : Math.Min(Math.Max(v, min), max);
            }
            SaveForBackward(x);
            return Record(output, x);
        }

        public override Tensor?[] Backward(Tensor gradOutput)
        {
            var x = SavedTensors[0].Data;
            var g = gradOutput.Data;
            var gradInput = Uninitialized(gradOutput.shape);
            var dx = gradInput.AsSpan();
            for (int i = 0; i < dx.Length; i++)
            {
                dx[i] = x[i] >= min && x[i] <= max ? g[i] : 0f;
            }
            return [gradInput];
        }
    }
}
