namespace NormSharp.Nn;

/// <summary>
/// A tensor that is a learnable parameter of a <see cref="Module"/>: it requires gradients by default
/// and is returned by <see cref="Module.Parameters"/>. Shares storage with the tensor it wraps.
/// </summary>
public sealed class Parameter : Tensor
{
    /// <summary>Wraps <paramref name="data"/>'s storage as a parameter.</summary>
    public Parameter(Tensor data, bool requiresGrad = true)
        : base(Unwrap(data).Storage, data.Offset, data.Shape)
    {
        RequiresGrad = requiresGrad;
        DetachFromDisposeScope();   // module state: outlives any scope it was made in
    }

    private static Tensor Unwrap(Tensor data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return data;
    }
}
