using System.Runtime.CompilerServices;
using NormSharp.Autograd;
using NormSharp.Kernels;

namespace NormSharp;

public partial class Tensor
{
    /// <summary>The sum of all elements, shape [] (partial sums in float blocks, added in double).</summary>
    public Tensor Sum() => new SumFunction(null, false, false).Forward(this);

    /// <summary>The sum along <paramref name="dim"/>; the dimension is kept with size 1 when <paramref name="keepDim"/>.</summary>
    public Tensor Sum(int dim, bool keepDim = false) => Sum([dim], keepDim);

    /// <summary>
    /// The sum over the dimensions <paramref name="dims"/> (negative values count from the end), as PyTorch's
    /// <c>sum(dim, keepdim)</c>: each is removed, or kept with size 1 when <paramref name="keepDim"/>; an empty list
    /// sums over everything. E.g. (N, C, H, W).Sum([0, 2, 3], keepDim: true) has shape (1, C, 1, 1).
    /// </summary>
    /// <exception cref="ArgumentException">A dimension appears twice.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is out of range.</exception>
    public Tensor Sum(int[] dims, bool keepDim = false) => new SumFunction(ReducedDims(dims), keepDim, false).Forward(this);

    /// <summary>The mean of all elements, shape [] (NaN for an empty tensor, as PyTorch).</summary>
    public Tensor Mean() => new SumFunction(null, false, true).Forward(this);

    /// <summary>The mean along <paramref name="dim"/>.</summary>
    public Tensor Mean(int dim, bool keepDim = false) => Mean([dim], keepDim);

    /// <summary>The mean over the dimensions <paramref name="dims"/>: <see cref="Sum(int[], bool)"/> divided by the number of elements summed.</summary>
    /// <exception cref="ArgumentException">A dimension appears twice.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is out of range.</exception>
    public Tensor Mean(int[] dims, bool keepDim = false) => new SumFunction(ReducedDims(dims), keepDim, true).Forward(this);

    // One flag per dimension: whether it is reduced; an empty list reduces all, as PyTorch.
    private bool[] ReducedDims(int[] dims)
    {
        ArgumentNullException.ThrowIfNull(dims);
        var reduced = new bool[Rank];
        if (dims.Length == 0)
        {
            Array.Fill(reduced, true);
            return reduced;
        }
        foreach (int dim in dims)
        {
            int d = ShapeUtil.NormalizeDim(dim, Rank);
            if (reduced[d])
            {
                throw new ArgumentException($"Dimension {d} appears more than once in the reduced dimensions [{string.Join(", ", dims)}] of shape {ShapeUtil.Format(shape)}.", nameof(dims));
            }
            reduced[d] = true;
        }
        return reduced;
    }

    /// <summary>Indices of the maxima along <paramref name="dim"/> (first on ties), as floats; not differentiable.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int[] ArgMax(int dim = -1)
    {
        int d = ShapeUtil.NormalizeDim(dim, Rank);
        int outer = ShapeUtil.Product(shape, 0, d), size = shape[d], inner = ShapeUtil.Product(shape, d + 1, Rank);
        if (size == 0)
        {
            throw new ArgumentException($"ArgMax over an empty dimension {d} of shape {ShapeUtil.Format(shape)}.");
        }
        var data = Data;
        var result = new int[outer * inner];
        for (int o = 0; o < outer; o++)
        {
            for (int i = 0; i < inner; i++)
            {
                int best = 0;
                float bestValue = data[o * size * inner + i];
                for (int s = 1; s < size; s++)
                {
                    float v = data[(o * size + s) * inner + i];
                    // NaN wins, as in PyTorch.
                    if (v > bestValue || (float.IsNaN(v) && !float.IsNaN(bestValue)))
                    {
                        best = s;
                        bestValue = v;
                    }
                }
                result[o * inner + i] = best;
            }
        }
        return result;
    }

    /// <summary>Sum (or mean) over a set of dimensions, or over everything (<c>reduced</c> null: shape []).</summary>
    private sealed class SumFunction(bool[]? reduced, bool keepDim, bool mean) : Function
    {
        private int[] inputShape = [];
        private int[] keptShape = [];   // the output's shape with the reduced dimensions kept as 1
        private double scale;

        public override string Name => mean ? "Mean" : "Sum";

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public Tensor Forward(Tensor x)
        {
            inputShape = x.shape;
            var flags = reduced ?? Enumerable.Repeat(true, x.Rank).ToArray();
            keptShape = new int[x.Rank];
            long count = 1;
            for (int d = 0; d < x.Rank; d++)
            {
                keptShape[d] = flags[d] ? 1 : x.shape[d];
                count *= flags[d] ? x.shape[d] : 1;
            }
            scale = mean ? 1.0 / count : 1.0;
            int[] outputShape = reduced is null ? [] : keepDim ? keptShape : [.. keptShape.Where((_, d) => !flags[d])];
            var output = Uninitialized(outputShape);
            Reduction.Sum(x.Data, default, x.shape, flags, scale, output.AsSpan());
            return Record(output, x);
        }

        public override Tensor?[] Backward(Tensor gradOutput)
        {
            if (gradOutput.Length == 1)
            {
                // Everything was summed: every element's gradient is the same, left unwritten until read.
                return [Uniform((float)(gradOutput.Data[0] * scale), inputShape)];
            }
            // dx[index] = scale · g[index without the reduced coordinates]: the gradient broadcast back.
            var gradInput = Uninitialized(inputShape);
            BroadcastFast.Binary<MultiplyOp>(
                gradOutput.Data, Broadcast.Strides(keptShape, inputShape), [(float)scale], new int[inputShape.Length], inputShape, gradInput.AsSpan());
            return [gradInput];
        }
    }
}
