using System.Runtime.CompilerServices;
using NormSharp.Autograd;

namespace NormSharp.Functional;

public static partial class F
{
    /// <summary>
    /// softmax(x)_i = e^(x_i − m) / Σ_j e^(x_j − m) along <paramref name="dim"/> (default −1), with m the maximum along it,
    /// so large logits do not overflow. Backward: dx = y · (dy − Σ dy·y).
    /// </summary>
    public static Tensor Softmax(Tensor input, int dim = -1)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new SoftmaxFunction(ShapeUtil.NormalizeDim(dim, input.Rank), log: false).Forward(input);
    }

    /// <summary>
    /// log softmax(x)_i = x_i − m − log Σ_j e^(x_j − m) along <paramref name="dim"/> (default −1), computed in double
    /// without forming the softmax first. Backward: dx = dy − softmax(x) · Σ dy.
    /// </summary>
    public static Tensor LogSoftmax(Tensor input, int dim = -1)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new SoftmaxFunction(ShapeUtil.NormalizeDim(dim, input.Rank), log: true).Forward(input);
    }

    /// <summary>
    /// Writes the log-softmax (or softmax) of the <paramref name="size"/> elements row[i·stride] to destination[i·stride];
    /// returns log Σ e^x, computed as max + log Σ e^(x − max) in double.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double SoftmaxRow(ReadOnlySpan<float> row, int size, int stride, bool log, Span<float> destination)
    {
        float max = float.NegativeInfinity;
        for (int i = 0; i < size; i++)
        {
            max = Math.Max(max, row[i * stride]);
        }
        double sum = 0;
        for (int i = 0; i < size; i++)
        {
            sum += Math.Exp((double)row[i * stride] - max);
        }
        double logSum = Math.Log(sum) + max;
        for (int i = 0; i < size; i++)
        {
            double logProbability = row[i * stride] - logSum;
            destination[i * stride] = (float)(log ? logProbability : Math.Exp(logProbability));
        }
        return logSum;
    }

    private sealed class SoftmaxFunction(int dim, bool log) : Function
    {
        public override string Name => log ? "LogSoftmax" : "Softmax";

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public Tensor Forward(Tensor input)
        {
            var shape = input.ShapeSpan;
            int outer = ShapeUtil.Product(shape, 0, dim), size = shape[dim], inner = ShapeUtil.Product(shape, dim + 1, shape.Length);
            var output = Tensor.Zeros(input.Shape);
            var x = input.Data;
            var y = output.AsSpan();
            int span = (size - 1) * inner + 1;
            for (int o = 0; o < outer && size > 0; o++)
            {
                for (int i = 0; i < inner; i++)
                {
                    int start = o * size * inner + i;
                    SoftmaxRow(x.Slice(start, span), size, inner, log, y.Slice(start, span));
                }
            }
            SaveForBackward(output);
            return Record(output, input);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public override Tensor?[] Backward(Tensor gradOutput)
        {
            var output = SavedTensors[0];
            var shape = output.ShapeSpan;
            int outer = ShapeUtil.Product(shape, 0, dim), size = shape[dim], inner = ShapeUtil.Product(shape, dim + 1, shape.Length);
            var y = output.Data;
            var dy = gradOutput.Data;
            var gradInput = Tensor.Zeros(output.Shape);
            var dx = gradInput.AsSpan();
            for (int o = 0; o < outer; o++)
            {
                for (int i = 0; i < inner; i++)
                {
                    int start = o * size * inner + i;
                    double dot = 0;
                    for (int s = 0; s < size; s++)
                    {
                        int at = start + s * inner;
                        dot += log ? dy[at] : (double)dy[at] * y[at];
                    }
                    for (int s = 0; s < size; s++)
                    {
                        int at = start + s * inner;
                        dx[at] = (float)(log ? dy[at] - Math.Exp(y[at]) * dot : y[at] * (dy[at] - dot));
                    }
                }
            }
            return [gradInput];
        }
    }
}
