using System.Numerics.Tensors;

namespace NormSharp.Kernels;

/// <summary>Elementwise kernels on spans; thin wrappers over TensorPrimitives where it has the op.</summary>
internal static class Elementwise
{
    /// <summary>destination[i] += source[i].</summary>
    public static void AddInPlace(ReadOnlySpan<float> source, Span<float> destination)
    {
        CheckSameLength(source.Length, destination.Length);
        TensorPrimitives.Add(destination, source, destination);
    }

    /// <summary>destination[i] += scale * source[i].</summary>
    public static void AddScaledInPlace(ReadOnlySpan<float> source, float scale, Span<float> destination)
    {
        CheckSameLength(source.Length, destination.Length);
        TensorPrimitives.MultiplyAdd(source, scale, destination, destination);
    }

    private static void CheckSameLength(int source, int destination)
    {
        if (source != destination)
        {
            throw new ArgumentException($"Length mismatch: source has {source} elements, destination {destination}.");
        }
    }
}
