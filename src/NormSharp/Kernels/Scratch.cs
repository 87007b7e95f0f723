using System.Buffers;

namespace NormSharp.Kernels;

/// <summary>Scratch buffers for kernels, rented from <see cref="ArrayPool{T}.Shared"/> (return them there).</summary>
internal static class Scratch
{
    /// <summary>A float buffer of at least <paramref name="length"/> elements whose first <paramref name="length"/> are zero.</summary>
    public static float[] RentCleared(int length)
    {
        var buffer = ArrayPool<float>.Shared.Rent(Math.Max(1, length));
        buffer.AsSpan(0, length).Clear();
        return buffer;
    }
}
