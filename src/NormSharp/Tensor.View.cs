using NormSharp.Autograd;

namespace NormSharp;

public partial class Tensor
{
    /// <summary>The same data with a new shape (one dimension may be -1). Shares storage.</summary>
    /// <exception cref="ArgumentException">The element counts differ.</exception>
    public Tensor Reshape(params int[] newShape)
    {
        ArgumentNullException.ThrowIfNull(newShape);
        var resolved = ShapeUtil.Infer(newShape, Length, shape);
        return new ReshapeFunction().Forward(this, resolved);
    }

    /// <summary>Flattens dimensions [startDim, end] into one (PyTorch's <c>flatten(start_dim)</c>). Shares storage.</summary>
    public Tensor Flatten(int startDim = 0)
    {
        if (Rank == 0)
        {
            return Reshape(1);
        }
        int d = ShapeUtil.NormalizeDim(startDim, Rank);
        return Reshape([.. shape[..d], ShapeUtil.Product(shape, d, Rank)]);
    }

    /// <summary>Element <paramref name="index"/> along the first dimension (one sample of a batch). Shares storage.</summary>
    [System.Runtime.CompilerServices.IndexerName("Row")]
    public Tensor this[int index]
    {
        get
        {
            if (Rank == 0)
            {
                throw new InvalidOperationException("A scalar (shape []) cannot be indexed.");
            }
            if (index < 0 || index >= shape[0])
            {
                throw new ArgumentOutOfRangeException(nameof(index), index, $"Index out of range for dimension 0 of size {shape[0]}.");
            }
            return Slice(index, 1).Reshape(shape[1..]);
        }
    }

    /// <summary>Rows [start, start + count) along the first dimension (<c>x[start:start+count]</c>). Shares storage.</summary>
    public Tensor Slice(int start, int count)
    {
        if (Rank == 0)
        {
            throw new InvalidOperationException("A scalar (shape []) cannot be sliced.");
        }
        if (start < 0 || count < 0 || start + count > shape[0])
        {
            throw new ArgumentOutOfRangeException(nameof(start),
                $"Slice [{start}, {start + count}) is out of range for dimension 0 of size {shape[0]}.");
        }
        return new SliceFunction().Forward(this, start, count);
    }

    /// <summary>The rows <paramref name="indices"/> of the first dimension, copied (<c>x[indices]</c>).</summary>
    public Tensor IndexSelect(ReadOnlySpan<int> indices)
    {
        if (Rank == 0)
        {
            throw new InvalidOperationException("A scalar (shape []) cannot be indexed.");
        }
        int rowLength = ShapeUtil.Product(shape, 1, Rank);
        int[] outShape = [indices.Length, .. shape[1..]];
        var output = Uninitialized(outShape);   // every row is copied below
        var src = Data;
        var dst = output.AsSpan();
        for (int i = 0; i < indices.Length; i++)
        {
            int row = indices[i];
            if (row < 0 || row >= shape[0])
            {
                throw new ArgumentOutOfRangeException(nameof(indices), row, $"Index out of range for dimension 0 of size {shape[0]}.");
            }
            src.Slice(row * rowLength, rowLength).CopyTo(dst.Slice(i * rowLength, rowLength));
        }
        if (RequiresGrad && GradMode.IsEnabled)
        {
            throw new NotSupportedException("IndexSelect is not differentiable; detach the tensor or use Slice.");
        }
        return output;
    }

    /// <summary>A copy with dimensions reordered: result dimension i is this tensor's dimension dims[i].</summary>
    public Tensor Permute(params int[] dims)
    {
        ArgumentNullException.ThrowIfNull(dims);
        if (dims.Length != Rank)
        {
            throw new ArgumentException($"Permute needs {Rank} dimensions for shape {ShapeUtil.Format(shape)}, got {dims.Length}.", nameof(dims));
        }
        var normalized = new int[Rank];
        var seen = new bool[Rank];
        for (int i = 0; i < Rank; i++)
        {
            normalized[i] = ShapeUtil.NormalizeDim(dims[i], Rank);
            if (seen[normalized[i]])
            {
                throw new ArgumentException($"Permute dimensions must be distinct, got [{string.Join(", ", dims)}].", nameof(dims));
            }
            seen[normalized[i]] = true;
        }
        return new PermuteFunction().Forward(this, normalized);
    }

    /// <summary>A copy with two dimensions swapped.</summary>
    public Tensor Transpose(int dim0, int dim1)
    {
        var dims = Enumerable.Range(0, Rank).ToArray();
        int a = ShapeUtil.NormalizeDim(dim0, Rank), b = ShapeUtil.NormalizeDim(dim1, Rank);
        (dims[a], dims[b]) = (dims[b], dims[a]);
        return Permute(dims);
    }

    private sealed class ReshapeFunction : Function
    {
        private int[] inputShape = [];

        public Tensor Forward(Tensor x, int[] newShape)
        {
            inputShape = x.shape;
            return Record(new Tensor(x.Live, x.offset, newShape), x);
        }

        public override Tensor?[] Backward(Tensor gradOutput) => [new Tensor(gradOutput.Live, gradOutput.offset, inputShape)];
    }

    private sealed class SliceFunction : Function
    {
        private int[] inputShape = [];
        private int start;

        public Tensor Forward(Tensor x, int start, int count)
        {
            inputShape = x.shape;
            this.start = start;
            int rowLength = ShapeUtil.Product(x.shape, 1, x.Rank);
            int[] outShape = [count, .. x.shape[1..]];
            return Record(new Tensor(x.Live, x.offset + start * rowLength, outShape), x);
        }

        public override Tensor?[] Backward(Tensor gradOutput)
        {
            var gradInput = Zeros(inputShape);
            int rowLength = ShapeUtil.Product(inputShape, 1, inputShape.Length);
            gradOutput.Data.CopyTo(gradInput.AsSpan()[(start * rowLength)..]);
            return [gradInput];
        }
    }

    internal sealed class PermuteFunction : Function
    {
        private int[] dims = [];

        /// <summary>Result dimension i is input dimension Dims[i] (read by the ONNX exporter's trace).</summary>
        internal IReadOnlyList<int> Dims => dims;

        public Tensor Forward(Tensor x, int[] dims)
        {
            this.dims = dims;
            return Record(Permuted(x, dims), x);
        }

        public override Tensor?[] Backward(Tensor gradOutput)
        {
            var inverse = new int[dims.Length];
            for (int i = 0; i < dims.Length; i++)
            {
                inverse[dims[i]] = i;
            }
            return [Permuted(gradOutput, inverse)];
        }

        private static Tensor Permuted(Tensor x, int[] dims)
        {
            int rank = dims.Length;
            var outShape = new int[rank];
            var sourceStrides = ShapeUtil.Strides(x.shape);
            var strides = new int[rank];
            for (int i = 0; i < rank; i++)
            {
                outShape[i] = x.shape[dims[i]];
                strides[i] = sourceStrides[dims[i]];
            }
            var output = Zeros(outShape);
            if (rank == 0)
            {
                x.Data.CopyTo(output.AsSpan());
                return output;
            }
            // Gather with the permuted strides; a copy with zero broadcast strides on the second operand.
            Kernels.Broadcast.Binary<AddOp>(x.Data, strides, [0f], new int[rank], outShape, output.AsSpan());
            return output;
        }
    }
}
