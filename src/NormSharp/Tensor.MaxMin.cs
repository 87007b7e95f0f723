using System.Runtime.CompilerServices;
using NormSharp.Autograd;

namespace NormSharp;

public partial class Tensor
{
    /// <summary>
    /// The largest element, shape [] (PyTorch's <c>max()</c>); NaN if any element is NaN. The gradient is shared
    /// evenly among the elements equal to the maximum, as in PyTorch.
    /// </summary>
    /// <exception cref="ArgumentException">The tensor is empty.</exception>
    public Tensor Max() => new ExtremumFunction(largest: true).Forward(this);

    /// <summary>The smallest element, shape [] (PyTorch's <c>min()</c>); gradient as for <see cref="Max()"/>.</summary>
    /// <exception cref="ArgumentException">The tensor is empty.</exception>
    public Tensor Min() => new ExtremumFunction(largest: false).Forward(this);

    /// <summary>
    /// The maxima along <paramref name="dim"/> and where they are (PyTorch's <c>max(dim, keepdim)</c>): the first
    /// maximum on ties, the first NaN if there is one. The gradient goes to that one element of each row.
    /// </summary>
    /// <param name="dim">The dimension to reduce; negative values count from the end.</param>
    /// <param name="keepDim">Keep the reduced dimension with size 1.</param>
    /// <returns>
    /// Values, and Indices as a float tensor of the same shape (exact up to 2^24; not differentiable), so that
    /// accuracy is <c>logits.Max(1).Indices.Eq(targets).Mean()</c>.
    /// </returns>
    /// <exception cref="ArgumentException">The dimension is empty.</exception>
    public (Tensor Values, Tensor Indices) Max(int dim, bool keepDim = false) => new ExtremumAlongFunction(largest: true).Forward(this, dim, keepDim);

    /// <summary>The minima along <paramref name="dim"/> and where they are; as <see cref="Max(int, bool)"/>.</summary>
    public (Tensor Values, Tensor Indices) Min(int dim, bool keepDim = false) => new ExtremumAlongFunction(largest: false).Forward(this, dim, keepDim);

    // PyTorch's CPU rule: a value replaces the best so far unless it is no better (`!(value <= best)` for max), so
    // ties keep the first and NaN, which compares false, wins; the first NaN ends the search.
    private static bool Replaces(float value, float best, bool largest) => largest ? !(value <= best) : !(value >= best);

    private void CheckNotEmpty(string op, int? dim)
    {
        if (Length == 0)
        {
            throw new ArgumentException(
                dim is null
                    ? $"{op}() of an empty tensor (shape {ShapeUtil.Format(shape)}) has no value; pass a dimension or a non-empty tensor."
                    : $"{op}({dim}) over an empty dimension of shape {ShapeUtil.Format(shape)}.");
        }
    }

    private sealed class ExtremumFunction(bool largest) : Function
    {
        public override string Name => largest ? "Max" : "Min";

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public Tensor Forward(Tensor x)
        {
            x.CheckNotEmpty(Name, null);
            var data = x.Data;
            float best = data[0];
            for (int i = 1; i < data.Length && !float.IsNaN(best); i++)
            {
                if (Replaces(data[i], best, largest))
                {
                    best = data[i];
                }
            }
            var output = Scalar(best);
            SaveForBackward(x, output);
            return Record(output, x);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override Tensor?[] Backward(Tensor gradOutput)
        {
            var x = SavedTensors[0].Data;
            float best = SavedTensors[1].Data[0];
            var gradInput = Zeros(SavedTensors[0].shape);
            var dx = gradInput.AsSpan();
            int ties = 0;
            for (int i = 0; i < x.Length; i++)
            {
                ties += IsBest(x[i], best) ? 1 : 0;
            }
            float share = gradOutput.Data[0] / ties;
            for (int i = 0; i < x.Length; i++)
            {
                dx[i] = IsBest(x[i], best) ? share : 0f;
            }
            return [gradInput];
        }

        private static bool IsBest(float value, float best) => value == best || (float.IsNaN(value) && float.IsNaN(best));
    }

    private sealed class ExtremumAlongFunction(bool largest) : Function
    {
        private int[] inputShape = [];
        private int[] chosen = [];
        private int size;
        private int inner;

        public override string Name => largest ? "Max" : "Min";

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public (Tensor Values, Tensor Indices) Forward(Tensor x, int dim, bool keepDim)
        {
            int d = ShapeUtil.NormalizeDim(dim, Math.Max(x.Rank, 1));
            inputShape = x.shape;
            // A scalar reduces over its one element, as in PyTorch.
            int[] shape = x.Rank == 0 ? [1] : x.shape;
            size = shape[d];
            inner = ShapeUtil.Product(shape, d + 1, shape.Length);
            int outer = ShapeUtil.Product(shape, 0, d);
            if (size == 0)
            {
                x.CheckNotEmpty(Name, dim);
            }
            var outShape = x.Rank == 0 ? [] : ReducedShape(x.shape, d, keepDim);
            var values = Uninitialized(outShape);
            var indices = Uninitialized(outShape);
            chosen = new int[outer * inner];
            var data = x.Data;
            var best = values.AsSpan();
            var where = indices.AsSpan();
            for (int o = 0; o < outer; o++)
            {
                for (int i = 0; i < inner; i++)
                {
                    int at = 0;
                    float value = data[o * size * inner + i];
                    for (int s = 1; s < size && !float.IsNaN(value); s++)
                    {
                        float candidate = data[(o * size + s) * inner + i];
                        if (Replaces(candidate, value, largest))
                        {
                            at = s;
                            value = candidate;
                        }
                    }
                    chosen[o * inner + i] = at;
                    best[o * inner + i] = value;
                    where[o * inner + i] = at;
                }
            }
            return (Record(values, x), indices);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override Tensor?[] Backward(Tensor gradOutput)
        {
            var gradInput = Zeros(inputShape);
            var dx = gradInput.AsSpan();
            var g = gradOutput.Data;
            for (int cell = 0; cell < chosen.Length; cell++)
            {
                int o = cell / inner, i = cell % inner;
                dx[(o * size + chosen[cell]) * inner + i] = g[cell];
            }
            return [gradInput];
        }
    }

    // The shape of a reduction along dim: removed, or kept with size 1.
    private static int[] ReducedShape(int[] shape, int dim, bool keepDim)
    {
        if (keepDim)
        {
            var kept = (int[])shape.Clone();
            kept[dim] = 1;
            return kept;
        }
        return [.. shape[..dim], .. shape[(dim + 1)..]];
    }
}
