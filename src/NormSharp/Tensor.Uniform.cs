using NormSharp.Kernels;

namespace NormSharp;

public partial class Tensor
{
    // A value every element has, not yet written to the storage (see Uniform); null once written.
    private float? pendingFill;

    /// <summary>
    /// A tensor all of whose elements are <paramref name="value"/>, written to its storage only when something reads
    /// it. The gradient of a full sum or mean is such a tensor: a backward that knows the value (<see cref="UniformValue"/>)
    /// computes with it directly, as libtorch's expanded gradient does, instead of writing and re-reading a full tensor.
    /// </summary>
    internal static Tensor Uniform(float value, int[] shape)
    {
        var tensor = Uninitialized(shape);
        tensor.pendingFill = value;
        return tensor;
    }

    /// <summary>The value of every element while a <see cref="Uniform"/> tensor has not been read; null otherwise.</summary>
    internal float? UniformValue => disposed ? null : pendingFill;

    // Two threads reading a uniform tensor at once: one writes it, the other waits (the flag clears only once written).
    private static readonly object FillGate = new();

    private unsafe void Materialize()
    {
        lock (FillGate)
        {
            if (pendingFill is not float value)
            {
                return;
            }
            fixed (float* data = storage.AsSpan(offset, Length))
            {
                nint start = (nint)data;
                Elementwise.ForChunks(Length, (from, count) => new Span<float>((float*)start + from, count).Fill(value));
            }
            pendingFill = null;
        }
    }
}
