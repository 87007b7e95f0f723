using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NormSharp;

/// <summary>
/// Storage for tensors: large arrays are recycled once the garbage collector has proved them unreachable, the way
/// libtorch's allocator hands a freed activation's memory to the next tensor of the same size.
/// </summary>
/// <remarks>
/// <para>Why: arrays of 85,000 bytes and more live on the GC's large-object heap, which only a full collection
/// reclaims, and the GC gives memory it freed back to the operating system. A new large array is then fresh memory,
/// paid for with one page fault per 4 KiB page: measured at about 10 µs a page on the sandboxed VM this library is
/// developed on, i.e. 2.6 ms to hand out a 1 MiB tensor and 70 ms for a 25 MB activation that a kernel fills in 1 ms.
/// A training step allocates the same activation sizes every time, so reusing dead arrays removes nearly all of it.</para>
/// <para>How, and why it is safe: every pooled-size array gets a <see cref="Sentinel"/> through a
/// <see cref="ConditionalWeakTable{TKey,TValue}"/>, which keeps the sentinel alive exactly as long as the array is
/// reachable, from anything: a tensor, a view, a <see cref="Span{T}"/> on some stack, a pinned pointer. When the
/// collector finds the array unreachable the sentinel's finalizer runs and puts the array back into a free list keyed
/// by length (finalization resurrects the array; nothing else can reach it any more). Only arrays allocated here are
/// ever recycled: arrays passed in by a caller (<see cref="Tensor.FromArray"/> copies) never are.</para>
/// <para>Alignment: pooled arrays live on the pinned-object heap, so they never move, and a tensor's storage gets
/// <see cref="AlignmentSlack"/> spare floats so that its data can start on a 64-byte boundary (<see cref="NewStorage"/>).
/// A Vector512 load or store that straddles two cache lines costs twice; measured on the batch-norm kernels, data
/// 16 bytes off the boundary ran 10-30% slower than aligned data (backward, channels last, 64 channels: 2.36 ms vs
/// 1.81 ms).</para>
/// <para>Sooner: when every tensor on an array was disposed (<see cref="Tensor.Dispose"/>) and no recorded operation
/// whose backward is still to run uses it, the array goes back to the free list at once, the way libtorch frees a
/// tensor whose reference count drops to zero.</para>
/// <para>When: undisposed arrays come back only after a full collection, so when a request finds no free array after
/// <see cref="CollectionBudget"/> bytes of pooled-size arrays were handed out, one blocking, non-compacting full
/// collection is requested and its finalizers awaited (about a millisecond for a training-sized heap). Where tensors
/// are disposed (a <see cref="Nn.Sequential"/> model, a block written with <c>using</c>), a steady-state step misses
/// nothing, and while it warms up a collection finds nothing but throws away free arrays as stale: so a collection that
/// gave back less than half of the fresh bytes taken from the runtime since the previous one doubles the budget (up
/// to <see cref="MaxCollectionBudget"/>), and one that gave back more resets it. Measured on a ResNet-20 step written
/// with <c>using</c> (bench <c>--memory</c>): 6 requested collections and 21 fresh arrays per step with a fixed budget,
/// none with this one. At most <see cref="Capacity"/> bytes are kept free; an array that sat unused through two such
/// collections is dropped for the GC to reclaim.</para>
/// </remarks>
internal static class StoragePool
{
    /// <summary>Arrays of at least this many floats (the GC's 85,000-byte large-object threshold) are pooled.</summary>
    public const int PooledLength = 85_000 / sizeof(float);

    /// <summary>
    /// A request the free lists cannot serve collects first when at least this many bytes of pooled-size arrays, and
    /// twice the request, were handed out since the last requested collection (the starting budget; see the remarks).
    /// </summary>
    public const long CollectionBudget = 4L << 20;

    /// <summary>The most the collection budget grows to while collections find little (see the remarks).</summary>
    public const long MaxCollectionBudget = 256L << 20;

    /// <summary>Spare floats in a tensor's pooled array, so that its data can start on a 64-byte boundary.</summary>
    public const int AlignmentSlack = Kernels.Alignment.SlackFloats;

    /// <summary>Most bytes of free arrays kept for reuse.</summary>
    public const long Capacity = 1L << 30;

    private static readonly ConditionalWeakTable<float[], Sentinel> Sentinels = new();
    private static readonly Dictionary<int, Stack<(float[] Array, int Epoch)>> Free = [];
    private static readonly object Gate = new();
    private static long freeBytes;
    private static long handedOut;   // bytes of pooled-size arrays since the last requested collection
    private static long takenFresh;   // of those, bytes of fresh arrays taken from the runtime
    private static long budget = CollectionBudget;   // handed-out bytes that make a request the free lists miss collect
    private static int epoch;   // requested collections so far
    private static long freshArrays;   // pooled-size arrays taken from the runtime so far

    /// <summary>
    /// Storage for a tensor of <paramref name="count"/> floats, cleared unless <paramref name="clear"/> is false: an
    /// array and the offset of the tensor's first element, which is 64-byte aligned for pooled sizes.
    /// </summary>
    public static (float[] Array, int Offset) NewStorage(long count, bool clear)
    {
        if (count < PooledLength)
        {
            return (NewArray(count, clear), 0);
        }
        var array = NewArray(count + AlignmentSlack, clear);
        return (array, Kernels.Alignment.AlignedOffset(array));
    }

    /// <summary>
    /// A copy of <paramref name="data"/> on storage from the pool (<see cref="NewStorage"/>): a batch copied in every
    /// step reuses the previous batch's array instead of fresh memory (188 KB of page faults a step for the paper MLP's
    /// batches of 60 images, when the copies were never recycled).
    /// </summary>
    public static (float[] Array, int Offset) Copy(ReadOnlySpan<float> data)
    {
        var (array, offset) = NewStorage(data.Length, clear: false);
        data.CopyTo(array.AsSpan(offset));
        return (array, offset);
    }

    /// <summary>A float array of <paramref name="count"/> elements, cleared unless <paramref name="clear"/> is false.</summary>
    public static float[] NewArray(long count, bool clear)
    {
        int length = checked((int)count);
        if (length < PooledLength)
        {
            return clear ? new float[length] : GC.AllocateUninitializedArray<float>(length);
        }
        long bytes = (long)length * sizeof(float);
        var array = TakeFree(length);
        if (array is null && Interlocked.Read(ref handedOut) >= Math.Max(Interlocked.Read(ref budget), 2 * bytes))
        {
            Collect();
            array = TakeFree(length);
        }
        Interlocked.Add(ref handedOut, bytes);
        if (array is null)
        {
            Interlocked.Add(ref takenFresh, bytes);
            Interlocked.Increment(ref freshArrays);
            array = clear ? GC.AllocateArray<float>(length, pinned: true) : GC.AllocateUninitializedArray<float>(length, pinned: true);
        }
        else if (clear)
        {
            array.AsSpan().Clear();
        }
        Sentinels.AddOrUpdate(array, new Sentinel(array));
        return array;
    }

    private static float[]? TakeFree(int length)
    {
        lock (Gate)
        {
            if (!Free.TryGetValue(length, out var stack) || stack.Count == 0)
            {
                return null;
            }
            freeBytes -= (long)length * sizeof(float);
            return stack.Pop().Array;
        }
    }

    /// <summary>Whether <paramref name="array"/> sits in a free list, ready for the next request of its length.</summary>
    internal static bool IsFree(float[] array)
    {
        lock (Gate)
        {
            return Free.TryGetValue(array.Length, out var stack) && stack.Any(entry => ReferenceEquals(entry.Array, array));
        }
    }

    // Called from the finalizer thread once the array is unreachable.
    private static void Return(float[] array)
    {
        long bytes = (long)array.Length * sizeof(float);
        lock (Gate)
        {
            if (freeBytes + bytes > Capacity)
            {
                return;
            }
            if (!Free.TryGetValue(array.Length, out var stack))
            {
                Free[array.Length] = stack = new Stack<(float[], int)>();
            }
            stack.Push((array, epoch));
            freeBytes += bytes;
        }
    }

    // One blocking, non-compacting full collection; the sentinels of the arrays it finds dead refill the free lists.
    private static void Collect()
    {
        Interlocked.Exchange(ref handedOut, 0);
        long taken = Interlocked.Exchange(ref takenFresh, 0);
        long freeBefore;
        lock (Gate)
        {
            DropStale();
            epoch++;
            freeBefore = freeBytes;
        }
        // Not under the lock: the finalizers awaited here take it.
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: false);
        GC.WaitForPendingFinalizers();
        long found;
        lock (Gate)
        {
            found = freeBytes - freeBefore;   // returned by the sentinels' finalizers (disposals meanwhile count too)
        }
        long current = Interlocked.Read(ref budget);
        Interlocked.Exchange(ref budget, 2 * found >= taken ? CollectionBudget : Math.Min(2 * current, MaxCollectionBudget));
    }

    // Drops the arrays that were already free at the previous requested collection and have not been reused since.
    private static void DropStale()
    {
        foreach (var (length, stack) in Free)
        {
            // A stack enumerates from its top; push the kept entries back bottom first.
            var keep = stack.Where(entry => entry.Epoch >= epoch - 1).Reverse().ToArray();
            freeBytes -= (long)(stack.Count - keep.Length) * length * sizeof(float);
            stack.Clear();
            foreach (var entry in keep)
            {
                stack.Push(entry);
            }
        }
    }

    /// <summary>How many blocking collections the pool has requested so far (for tests and measurements).</summary>
    public static int RequestedCollections => Volatile.Read(ref epoch);

    /// <summary>
    /// How many pooled-size arrays the pool has taken from the runtime so far, because no free array of the requested
    /// length was there (for tests and measurements: a steady-state training step should add none).
    /// </summary>
    public static long FreshArrays => Interlocked.Read(ref freshArrays);

    /// <summary>A tensor now wraps <paramref name="array"/> (<see cref="Tensor.Dispose"/> gives the claim up).</summary>
    public static void Hold(float[] array)
    {
        if (Find(array) is { } sentinel)
        {
            Interlocked.Increment(ref sentinel.Tensors);
        }
    }

    /// <summary>A tensor on <paramref name="array"/> was disposed: the array is free once nothing else uses it.</summary>
    public static void Release(float[] array)
    {
        if (Find(array) is { } sentinel && Interlocked.Decrement(ref sentinel.Tensors) == 0)
        {
            RecycleIfUnused(array, sentinel);
        }
    }

    /// <summary>
    /// A recorded autograd operation uses the storage of <paramref name="tensors"/> (its output, inputs and saved
    /// tensors) until its backward has run; returns the pooled arrays it now holds (each once), for
    /// <see cref="ReleaseFromGraph"/>.
    /// </summary>
    public static float[][] HoldForGraph(Tensor[] tensors)
    {
        var held = new List<float[]>(tensors.Length);
        void Add(float[] array)
        {
            if (Find(array) is { } sentinel && !held.Contains(array))   // arrays compare by reference
            {
                Interlocked.Increment(ref sentinel.GraphUses);
                held.Add(array);
            }
        }
        foreach (var tensor in tensors)
        {
            Add(tensor.Storage);
        }
        return [.. held];
    }

    /// <summary>The backward of an operation using <paramref name="array"/> has run.</summary>
    public static void ReleaseFromGraph(float[] array)
    {
        if (Find(array) is { } sentinel && Interlocked.Decrement(ref sentinel.GraphUses) == 0)
        {
            RecycleIfUnused(array, sentinel);
        }
    }

    /// <summary>
    /// Gives back an array from <see cref="NewArray"/> that its owner no longer reads and never let a tensor wrap
    /// (an autograd function's scratch): free at once. Arrays too small to be pooled are left to the collector.
    /// </summary>
    public static void Recycle(float[] array)
    {
        if (Find(array) is { } sentinel)
        {
            RecycleIfUnused(array, sentinel);
        }
    }

    /// <summary>
    /// Whether exactly one tensor holds <paramref name="array"/> and no pending backward uses it: a pooled array whose
    /// holder may hand it on instead of copying it. Always false for arrays too small to be pooled (nothing counts them).
    /// </summary>
    public static bool IsExclusive(float[] array) =>
        Find(array) is { } sentinel && Volatile.Read(ref sentinel.Tensors) == 1 && Volatile.Read(ref sentinel.GraphUses) == 0;

    private static Sentinel? Find(float[] array) =>
        array.Length >= PooledLength && Sentinels.TryGetValue(array, out var sentinel) ? sentinel : null;

    // Every tensor on the array was disposed and no pending backward uses it: the array is free now, and its sentinel
    // is retired so that it can never return the array a second time.
    private static void RecycleIfUnused(float[] array, Sentinel sentinel)
    {
        lock (Gate)
        {
            if (sentinel.Tensors != 0 || sentinel.GraphUses != 0 || sentinel.Retired)
            {
                return;
            }
            sentinel.Retired = true;
        }
        GC.SuppressFinalize(sentinel);
        Sentinels.Remove(array);
        Return(array);
    }

    /// <summary>
    /// Lives exactly as long as its array is reachable; returns the array to the pool when it is not. Also counts the
    /// claims on the array that can be given up explicitly: the tensors wrapping it and the pending backwards using it.
    /// </summary>
    private sealed class Sentinel(float[] array)
    {
        public int Tensors;
        public int GraphUses;
        public bool Retired;

        ~Sentinel() => Return(array);
    }
}
