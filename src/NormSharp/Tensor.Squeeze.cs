namespace NormSharp;

public partial class Tensor
{
    /// <summary>
    /// The same data with a dimension of size 1 inserted at <paramref name="dim"/> (PyTorch's <c>unsqueeze</c>):
    /// [2, 3].Unsqueeze(0) is [1, 2, 3], Unsqueeze(-1) is [2, 3, 1]. Shares storage.
    /// </summary>
    /// <param name="dim">Position of the new dimension in the result, in [−rank − 1, rank].</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dim"/> is outside [−rank − 1, rank].</exception>
    public Tensor Unsqueeze(int dim)
    {
        int d = ShapeUtil.NormalizeDim(dim, Rank + 1);
        return Reshape([.. shape[..d], 1, .. shape[d..]]);
    }

    /// <summary>
    /// The same data without dimension <paramref name="dim"/> when its size is 1 (PyTorch's <c>squeeze(dim)</c>);
    /// a dimension of another size is kept, so the result then has this tensor's shape. Shares storage.
    /// </summary>
    /// <param name="dim">The dimension to remove; negative values count from the end. For a scalar, 0 or −1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dim"/> is out of range.</exception>
    public Tensor Squeeze(int dim)
    {
        // PyTorch treats a scalar as having one dimension here: squeeze(0) of shape [] is shape [].
        int d = ShapeUtil.NormalizeDim(dim, Math.Max(Rank, 1));
        if (Rank == 0 || shape[d] != 1)
        {
            return Reshape(shape);
        }
        return Reshape([.. shape[..d], .. shape[(d + 1)..]]);
    }

    /// <summary>The same data without any dimension of size 1 (PyTorch's <c>squeeze()</c>). Shares storage.</summary>
    public Tensor Squeeze() => Reshape([.. shape.Where(size => size != 1)]);
}
