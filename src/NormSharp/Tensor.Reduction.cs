using NormSharp.Autograd;

namespace NormSharp;

public partial class Tensor
{
    /// <summary>The sum of all elements, shape [] (accumulated in double).</summary>
    public Tensor Sum() => new SumFunction(null, false, false).Forward(this);

    /// <summary>The sum along <paramref name="dim"/>; the dimension is kept with size 1 when <paramref name="keepDim"/>.</summary>
    public Tensor Sum(int dim, bool keepDim = false) => new SumFunction(dim, keepDim, false).Forward(this);

    /// <summary>The mean of all elements, shape [].</summary>
    public Tensor Mean() => new SumFunction(null, false, true).Forward(this);

    /// <summary>The mean along <paramref name="dim"/>.</summary>
    public Tensor Mean(int dim, bool keepDim = false) => new SumFunction(dim, keepDim, true).Forward(this);

    /// <summary>Indices of the maxima along <paramref name="dim"/> (first on ties), as floats; not differentiable.</summary>
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

    /// <summary>Sum (or mean) over one dimension or over everything.</summary>
    private sealed class SumFunction(int? dim, bool keepDim, bool mean) : Function
    {
        private int[] inputShape = [];

        public override string Name => mean ? "Mean" : "Sum";

        public Tensor Forward(Tensor x)
        {
            inputShape = x.shape;
            var data = x.Data;
            if (dim is null)
            {
                double sum = 0;
                foreach (float v in data)
                {
                    sum += v;
                }
                float value = (float)(mean ? sum / x.Length : sum);
                return Record(Scalar(value), x);
            }
            int d = ShapeUtil.NormalizeDim(dim.Value, x.Rank);
            int outer = ShapeUtil.Product(x.shape, 0, d), size = x.shape[d], inner = ShapeUtil.Product(x.shape, d + 1, x.Rank);
            var outShape = ReducedShape(x.shape, d, keepDim);
            var output = Zeros(outShape);
            var dst = output.AsSpan();
            var sums = new double[inner];
            for (int o = 0; o < outer; o++)
            {
                Array.Clear(sums);
                for (int s = 0; s < size; s++)
                {
                    var row = data.Slice((o * size + s) * inner, inner);
                    for (int i = 0; i < inner; i++)
                    {
                        sums[i] += row[i];
                    }
                }
                for (int i = 0; i < inner; i++)
                {
                    dst[o * inner + i] = (float)(mean ? sums[i] / size : sums[i]);
                }
            }
            return Record(output, x);
        }

        public override Tensor?[] Backward(Tensor gradOutput)
        {
            var gradInput = Zeros(inputShape);
            var dx = gradInput.AsSpan();
            var g = gradOutput.Data;
            if (dim is null)
            {
                dx.Fill(mean ? g[0] / dx.Length : g[0]);
                return [gradInput];
            }
            int d = ShapeUtil.NormalizeDim(dim.Value, inputShape.Length);
            int outer = ShapeUtil.Product(inputShape, 0, d), size = inputShape[d], inner = ShapeUtil.Product(inputShape, d + 1, inputShape.Length);
            float scale = mean ? 1f / size : 1f;
            for (int o = 0; o < outer; o++)
            {
                for (int s = 0; s < size; s++)
                {
                    for (int i = 0; i < inner; i++)
                    {
                        dx[(o * size + s) * inner + i] = g[o * inner + i] * scale;
                    }
                }
            }
            return [gradInput];
        }
    }

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
