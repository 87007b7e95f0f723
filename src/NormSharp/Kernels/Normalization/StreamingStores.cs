using System.Runtime.CompilerServices;

namespace NormSharp.Kernels;

/// <summary>
/// Vector stores that may bypass the caches (non-temporal), for large outputs: a plain store to a line that is not
/// cached first reads it from memory. The bits written are the same either way.
/// </summary>
internal static unsafe class StreamingStores<TVector, TOps>
    where TVector : struct
    where TOps : struct, ISimdOps<TVector>
{
    /// <summary>Stores <paramref name="value"/>, non-temporally when <paramref name="streaming"/> (then the address must be vector-aligned).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Put(float* destination, TVector value, bool streaming)
    {
        if (streaming)
        {
            TOps.StoreStreaming(destination, value);
        }
        else
        {
            TOps.Store(destination, value);
        }
    }

    /// <summary>Elements of a run of <paramref name="length"/> starting at <paramref name="run"/> before the first vector-aligned address (all of them when none is).</summary>
    public static int Head(float* run, int length) => Alignment.FloatsToBoundary(run, TOps.Count * sizeof(float), length);

    /// <summary>Non-temporal stores are weakly ordered: fence them before another thread may read what this one wrote.</summary>
    public static void End(bool streaming)
    {
        if (streaming && System.Runtime.Intrinsics.X86.Sse.IsSupported)
        {
            System.Runtime.Intrinsics.X86.Sse.StoreFence();
        }
    }
}
