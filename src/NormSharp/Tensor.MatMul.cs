using NormSharp.Autograd;
using NormSharp.Kernels;

namespace NormSharp;

public partial class Tensor
{
    /// <summary>Matrix product of [m, k] and [k, n] tensors, giving [m, n].</summary>
    /// <exception cref="ArgumentException">Either operand is not 2-D or the inner dimensions differ.</exception>
    public Tensor MatMul(Tensor other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (Rank != 2 || other.Rank != 2)
        {
            throw new ArgumentException(
                $"MatMul expects two 2-D tensors, got shapes {ShapeUtil.Format(shape)} and {ShapeUtil.Format(other.shape)}.");
        }
        if (shape[1] != other.shape[0])
        {
            throw new ArgumentException(
                $"MatMul shape mismatch: {ShapeUtil.Format(shape)} @ {ShapeUtil.Format(other.shape)} — inner dimensions {shape[1]} and {other.shape[0]} must be equal.");
        }
        return new MatMulFunction().Forward(this, other);
    }

    private sealed class MatMulFunction : Function
    {
        public Tensor Forward(Tensor a, Tensor b)
        {
            int m = a.shape[0], k = a.shape[1], n = b.shape[1];
            var output = Uninitialized(m, n);   // accumulate: false writes every element
            Gemm.Multiply(a.Data, b.Data, m, n, k, false, false, false, output.AsSpan());
            SaveForBackward(a, b);
            return Record(output, a, b);
        }

        public override Tensor?[] Backward(Tensor gradOutput)
        {
            var a = SavedTensors[0];
            var b = SavedTensors[1];
            int m = a.shape[0], k = a.shape[1], n = b.shape[1];
            Tensor? gradA = null, gradB = null;
            if (NeedsInputGrad[0])
            {
                // dA[m,k] = dC[m,n] @ B[k,n]^T
                gradA = Uninitialized(m, k);
                Gemm.Multiply(gradOutput.Data, b.Data, m, k, n, false, true, false, gradA.AsSpan());
            }
            if (NeedsInputGrad[1])
            {
                // dB[k,n] = A[m,k]^T @ dC[m,n]
                gradB = Uninitialized(k, n);
                Gemm.Multiply(a.Data, gradOutput.Data, k, n, m, true, false, false, gradB.AsSpan());
            }
            return [gradA, gradB];
        }
    }
}
