using NormSharp.Autograd;

namespace NormSharp.Nn;

/// <summary>
/// Helpers shared by the recurrent layers: which samples are still running at each step, the output rows of
/// finished samples, bias gradients, and stacking per-step or per-layer tensors along a new first dimension.
/// </summary>
internal static class SequenceSteps
{
    /// <summary>[L, N] flags, 1 while t &lt; lengths[n]; empty when there are no lengths (every step active).</summary>
    public static byte[] ActiveSteps(int[]? lengths, int length, int batch)
    {
        if (lengths is null)
        {
            return [];
        }
        var active = new byte[length * batch];
        for (int t = 0; t < length; t++)
        {
            for (int n = 0; n < batch; n++)
            {
                active[t * batch + n] = (byte)(t < lengths[n] ? 1 : 0);
            }
        }
        return active;
    }

    /// <summary>Output row t = h_{t+1} for running samples, 0 for finished ones.</summary>
    // hiddens: [L + 1, N, H]; active: [L, N] or empty; output: [L, N, H] at least
    public static void CopyOutputs(ReadOnlySpan<float> hiddens, ReadOnlySpan<byte> active, int length, int batch, int hidden, Span<float> output)
    {
        int step = batch * hidden;
        hiddens.Slice(step, length * step).CopyTo(output);
        if (active.IsEmpty)
        {
            return;
        }
        for (int i = 0; i < length * batch; i++)
        {
            if (active[i] == 0)
            {
                output.Slice(i * hidden, hidden).Clear();
            }
        }
    }

    /// <summary>gradHidden += gradOutput at running samples (a finished sample's output is the constant 0).</summary>
    // gradOutput, gradHidden: [N, H]; active: [N] or empty
    public static void AddOutputGradient(ReadOnlySpan<float> gradOutput, ReadOnlySpan<byte> active, int batch, int hidden, Span<float> gradHidden)
    {
        for (int n = 0; n < batch; n++)
        {
            if (active.IsEmpty || active[n] != 0)
            {
                Kernels.Elementwise.AddInPlace(gradOutput.Slice(n * hidden, hidden), gradHidden.Slice(n * hidden, hidden));
            }
        }
    }

    /// <summary>A finished sample's state was copied from the step before: its gradient passes through unchanged.</summary>
    // gradHidden, gradHiddenPrevious: [N, H]; active: [N] or empty
    public static void CarryInactive(ReadOnlySpan<float> gradHidden, ReadOnlySpan<byte> active, int batch, int hidden, Span<float> gradHiddenPrevious)
    {
        if (active.IsEmpty)
        {
            return;
        }
        for (int n = 0; n < batch; n++)
        {
            if (active[n] == 0)
            {
                Kernels.Elementwise.AddInPlace(gradHidden.Slice(n * hidden, hidden), gradHiddenPrevious.Slice(n * hidden, hidden));
            }
        }
    }

    /// <summary>Σ over rows of a [rows, columns] matrix, summed in double: a bias gradient.</summary>
    public static Tensor ColumnSums(ReadOnlySpan<float> matrix, int rows, int columns)
    {
        var sums = new double[columns];
        for (int r = 0; r < rows; r++)
        {
            var row = matrix.Slice(r * columns, columns);
            for (int j = 0; j < columns; j++)
            {
                sums[j] += row[j];
            }
        }
        return Tensor.FromArray(Array.ConvertAll(sums, s => (float)s), columns);
    }

    /// <summary>Tensors of one shape stacked along a new first dimension: [count, ...shape]. Differentiable.</summary>
    public static Tensor Stack(IReadOnlyList<Tensor> tensors) => new StackFunction().Forward(tensors);

    private sealed class StackFunction : Function
    {
        private int[] partShape = [];

        public Tensor Forward(IReadOnlyList<Tensor> tensors)
        {
            partShape = tensors[0].Shape;
            int partLength = tensors[0].Length;
            var output = Tensor.Uninitialized([tensors.Count, .. partShape]);
            var y = output.AsSpan();
            for (int i = 0; i < tensors.Count; i++)
            {
                if (!tensors[i].ShapeSpan.SequenceEqual(partShape))
                {
                    throw new ArgumentException(
                        $"Stacked tensors must have one shape: {ShapeUtil.Format(partShape)} and {ShapeUtil.Format(tensors[i].ShapeSpan)}.", nameof(tensors));
                }
                tensors[i].Data.CopyTo(y.Slice(i * partLength, partLength));
            }
            return Record(output, [.. tensors]);
        }

        public override Tensor?[] Backward(Tensor gradOutput)
        {
            int partLength = (int)ShapeUtil.Count(partShape);
            var gradients = new Tensor?[Inputs.Count];
            for (int i = 0; i < gradients.Length; i++)
            {
                if (NeedsInputGrad[i])
                {
                    gradients[i] = Tensor.FromArray(gradOutput.Data.Slice(i * partLength, partLength).ToArray(), partShape);
                }
            }
            return gradients;
        }
    }
}
