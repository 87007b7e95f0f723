using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NormSharp.Kernels;

/// <summary>
/// The one alignment helper of the kernels and the storage pool: 64 bytes, a cache line and the widest vector, so
/// that an aligned vector load never straddles two lines and non-temporal stores may be used.
/// </summary>
internal static unsafe class Alignment
{
    /// <summary>The alignment of pooled storage, packed GEMM panels and the batch-norm coefficient block.</summary>
    public const int Bytes = 64;

    /// <summary>Floats to allocate beyond the payload so that an aligned start always fits.</summary>
    public const int SlackFloats = Bytes / sizeof(float) - 1;

    /// <summary>Index of the first <see cref="Bytes"/>-aligned element of a pinned array (0..<see cref="SlackFloats"/>).</summary>
    public static int AlignedOffset(float[] array) =>
        FloatsToBoundary((float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array)), Bytes, SlackFloats);

    /// <summary>The first <see cref="Bytes"/>-aligned address at or after <paramref name="pointer"/>.</summary>
    public static float* Up(float* pointer) => pointer + FloatsToBoundary(pointer, Bytes, SlackFloats);

    /// <summary>
    /// Floats from <paramref name="pointer"/> to the next address aligned to <paramref name="bytes"/> (a power of two),
    /// 0 when it is aligned, at most <paramref name="limit"/>.
    /// </summary>
    public static int FloatsToBoundary(float* pointer, int bytes, int limit) =>
        Math.Min(limit, (int)((nuint)(-(nint)pointer) & (nuint)(bytes - 1)) / sizeof(float));
}
