using NormSharp.Autograd;

namespace NormSharp;

public partial class Tensor
{
    /// <summary>
    /// Concatenates tensors along an existing dimension (PyTorch's <c>torch.cat</c>): every tensor has the same rank
    /// and the same sizes except along <paramref name="dim"/>, whose sizes add up. As in PyTorch, a 1-D tensor of
    /// shape [0] is skipped whatever the other shapes are. The gradient of each input is its slice of the output's.
    /// </summary>
    /// <param name="tensors">At least one tensor.</param>
    /// <param name="dim">The dimension to join along; negative values count from the end.</param>
    /// <returns>A new tensor with shape[dim] = Σ tensors[i].shape[dim].</returns>
    /// <exception cref="ArgumentException">No tensors, or ranks or sizes outside <paramref name="dim"/> differ (the message names both shapes).</exception>
    public static Tensor Cat(IReadOnlyList<Tensor> tensors, int dim)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (tensors.Count == 0)
        {
            throw new ArgumentException("Cat expected a non-empty list of tensors, got 0 tensors.", nameof(tensors));
        }
        foreach (var t in tensors)
        {
            ArgumentNullException.ThrowIfNull(t, nameof(tensors));
        }
        // torch.cat's legacy rule: shape-[0] tensors take no part in the shape check.
        var joined = tensors.Where(t => !IsLegacyEmpty(t)).ToArray();
        if (joined.Length == 0)
        {
            return new JoinFunction(0, [.. tensors.Select(t => 0)]).Forward([.. tensors], [0]);
        }
        var first = joined[0];
        if (first.Rank == 0)
        {
            throw new ArgumentException("Cat cannot join zero-dimensional tensors (shape []); use Stack.", nameof(tensors));
        }
        int d = ShapeUtil.NormalizeDim(dim, first.Rank);
        var outShape = first.Shape;
        outShape[d] = 0;
        foreach (var t in joined)
        {
            CheckSameExcept(first, t, d, "Cat");
            outShape[d] += t.shape[d];
        }
        var sizes = tensors.Select(t => IsLegacyEmpty(t) ? 0 : t.shape[d]).ToArray();
        return new JoinFunction(d, sizes).Forward([.. tensors], outShape);
    }

    /// <summary>
    /// Stacks tensors of one shape along a new dimension (PyTorch's <c>torch.stack</c>): the result has rank + 1
    /// dimensions and result.Select(dim, i) = tensors[i]. Equivalent to <c>Cat</c> of each tensor unsqueezed at
    /// <paramref name="dim"/>.
    /// </summary>
    /// <param name="tensors">At least one tensor; all of the same shape.</param>
    /// <param name="dim">Where the new dimension goes, in [−rank − 1, rank]; negative values count from the end of the result.</param>
    /// <exception cref="ArgumentException">No tensors, or two shapes differ (the message names both).</exception>
    public static Tensor Stack(IReadOnlyList<Tensor> tensors, int dim = 0)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (tensors.Count == 0)
        {
            throw new ArgumentException("Stack expected a non-empty list of tensors, got 0 tensors.", nameof(tensors));
        }
        var first = tensors[0];
        ArgumentNullException.ThrowIfNull(first, nameof(tensors));
        int d = ShapeUtil.NormalizeDim(dim, first.Rank + 1);
        for (int i = 1; i < tensors.Count; i++)
        {
            ArgumentNullException.ThrowIfNull(tensors[i], nameof(tensors));
            if (!ShapeUtil.Equal(first.shape, tensors[i].shape))
            {
                throw new ArgumentException(
                    $"Stack expects each tensor to be equal size, but got {ShapeUtil.Format(first.shape)} at entry 0 and {ShapeUtil.Format(tensors[i].shape)} at entry {i}.",
                    nameof(tensors));
            }
        }
        int[] outShape = [.. first.shape[..d], tensors.Count, .. first.shape[d..]];
        return new JoinFunction(d, [.. tensors.Select(_ => 1)]).Forward([.. tensors], outShape);
    }

    private static bool IsLegacyEmpty(Tensor tensor) => tensor.Rank == 1 && tensor.Length == 0;

    private static void CheckSameExcept(Tensor first, Tensor other, int dim, string op)
    {
        bool same = first.Rank == other.Rank;
        for (int i = 0; same && i < first.Rank; i++)
        {
            same = i == dim || first.shape[i] == other.shape[i];
        }
        if (!same)
        {
            throw new ArgumentException(
                $"{op} expects tensors of rank {first.Rank} with equal sizes except in dimension {dim}, got shapes {ShapeUtil.Format(first.shape)} and {ShapeUtil.Format(other.shape)}.",
                "tensors");
        }
    }

    /// <summary>
    /// Cat and Stack as one copy: viewed as [outer, sizes[i] · inner], input i fills columns
    /// [Σ_{j&lt;i} sizes[j] · inner, ...) of the output viewed as [outer, Σ sizes · inner].
    /// </summary>
    private sealed class JoinFunction(int dim, int[] sizes) : Function
    {
        private int[][] inputShapes = [];
        private int outer;
        private int inner;

        public override string Name => "Cat";

        public Tensor Forward(Tensor[] inputs, int[] outShape)
        {
            inputShapes = [.. inputs.Select(t => t.shape)];
            outer = ShapeUtil.Product(outShape, 0, dim);
            inner = ShapeUtil.Product(outShape, dim + 1, outShape.Length);
            var output = Uninitialized(outShape);
            int total = outShape.Length == 0 ? 0 : outShape[dim] * inner;
            var dst = output.AsSpan();
            int column = 0;
            for (int i = 0; i < inputs.Length; i++)
            {
                int block = sizes[i] * inner;
                var src = inputs[i].Data;
                for (int o = 0; o < outer && block > 0; o++)
                {
                    src.Slice(o * block, block).CopyTo(dst.Slice(o * total + column, block));
                }
                column += block;
            }
            return Record(output, inputs);
        }

        public override Tensor?[] Backward(Tensor gradOutput)
        {
            var g = gradOutput.Data;
            int total = g.Length / Math.Max(1, outer);
            var gradInputs = new Tensor?[inputShapes.Length];
            int column = 0;
            for (int i = 0; i < inputShapes.Length; i++)
            {
                int block = sizes[i] * inner;
                if (NeedsInputGrad[i])
                {
                    var gradInput = Zeros(inputShapes[i]);
                    var dst = gradInput.AsSpan();
                    for (int o = 0; o < outer && block > 0; o++)
                    {
                        g.Slice(o * total + column, block).CopyTo(dst.Slice(o * block, block));
                    }
                    gradInputs[i] = gradInput;
                }
                column += block;
            }
            return gradInputs;
        }
    }
}
