namespace NormSharp;

/// <summary>
/// Storage for tensors, with a budget on how much large-array memory may be allocated between full collections.
/// </summary>
/// <remarks>
/// <para>Arrays of 85 KB and more live on the GC's large-object heap, which only a full (gen 2) collection reclaims;
/// the GC schedules those from its own budget, often hundreds of MB. Until one runs, every new large tensor is fresh
/// memory from the operating system, paid for with one page fault per 4 KiB: measured here at about 12 µs a page on
/// a sandboxed VM, i.e. 75 ms to hand out a 25 MB activation that the kernel then fills in 1 ms. After a collection,
/// new arrays reuse memory that is already mapped.</para>
/// <para>So tensors of 1 MiB and more count against <see cref="Budget"/>; when that much has been allocated since the
/// last full collection, one non-compacting full collection is requested (about a millisecond for a training-sized
/// heap). A training loop that drops its activations every step then runs on reused memory. Turn it off with the
/// AppContext switch <c>NormSharp.DisableLargeAllocationCollections</c> (runtimeconfig or
/// <c>AppContext.SetSwitch</c>).</para>
/// </remarks>
internal static class LargeAllocations
{
    /// <summary>Bytes of large tensors allowed between full collections.</summary>
    public const long Budget = 64L << 20;

    /// <summary>Arrays below this size are left to the GC's own budgets.</summary>
    public const long CountedBytes = 1L << 20;

    private static readonly bool Disabled =
        AppContext.TryGetSwitch("NormSharp.DisableLargeAllocationCollections", out bool disabled) && disabled;

    private static long pending;
    private static int lastFullCollection = -1;

    /// <summary>A new float array of <paramref name="count"/> elements, cleared unless <paramref name="clear"/> is false.</summary>
    public static float[] NewArray(long count, bool clear)
    {
        int length = checked((int)count);
        Note((long)length * sizeof(float));
        return clear ? new float[length] : GC.AllocateUninitializedArray<float>(length);
    }

    /// <summary>Counts a large allocation and collects when the budget is spent.</summary>
    public static void Note(long bytes)
    {
        if (Disabled || bytes < CountedBytes)
        {
            return;
        }
        int fullCollections = GC.CollectionCount(2);
        if (fullCollections != Volatile.Read(ref lastFullCollection))
        {
            // the GC collected on its own: start a new budget
            Volatile.Write(ref lastFullCollection, fullCollections);
            Interlocked.Exchange(ref pending, 0);
        }
        if (Interlocked.Add(ref pending, bytes) >= Budget)
        {
            Interlocked.Exchange(ref pending, 0);
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: false);
            Volatile.Write(ref lastFullCollection, GC.CollectionCount(2));
        }
    }
}
