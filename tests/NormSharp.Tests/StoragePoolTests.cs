using System.Runtime.CompilerServices;

namespace NormSharp.Tests;

// The pool is process-wide; these tests only use lengths no other test allocates and run in the non-parallel StoragePool
// collection, so no other test's collections or disposals fill the free lists between their steps.
[Collection(StoragePoolCollection.Name)]
public class StoragePoolTests
{
    [Fact]
    public void The_storage_of_a_dropped_tensor_is_reused_after_a_collection()
    {
        const int length = StoragePool.PooledLength + 101;
        int identity = DropTensor(length);
        CollectAndFinalize();
        var next = Tensor.Zeros(length);
        Assert.Equal(identity, RuntimeHelpers.GetHashCode(next.Storage));
        Assert.All(next.ToArray(), v => Assert.Equal(0f, v));   // Zeros clears a reused array
    }

    [Fact]
    public void Storage_still_reachable_through_a_span_is_never_handed_out()
    {
        const int length = StoragePool.PooledLength + 203;
        Span<float> span = FilledTensor(length, 3f).AsSpan();   // the tensor object itself is unreachable now
        CollectAndFinalize();
        var other = Tensor.Full(-1f, length);
        Assert.All(span.ToArray(), v => Assert.Equal(3f, v));
        Assert.Equal(-1f, other.AsSpan()[0]);
    }

    [Fact]
    public void A_live_tensor_is_never_recycled_and_a_dropped_FromArray_copy_is_but_never_the_caller_s_array()
    {
        const int length = StoragePool.PooledLength + 307;
        var live = Tensor.Full(5f, length);
        var callers = new float[length];
        int fromArrayIdentity = DropFromArray(callers);
        CollectAndFinalize();
        var fresh = Tensor.Full(7f, length);
        Assert.NotSame(live.Storage, fresh.Storage);
        Assert.NotSame(callers, fresh.Storage);
        Assert.Equal(fromArrayIdentity, RuntimeHelpers.GetHashCode(fresh.Storage));   // FromArray's copy came from the pool
        Assert.All(live.ToArray(), v => Assert.Equal(5f, v));
        Assert.All(callers, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void A_loop_that_drops_its_tensors_runs_on_a_few_recycled_arrays()
    {
        const int elements = (1 << 18) + 409;   // 1 MiB: the pool collects after handing out 4 of them
        DropUntilACollection(elements + 1);   // another length: its free list stays apart
        var identities = new HashSet<int>();
        for (int i = 0; i < 40; i++)
        {
            identities.Add(DropTensor(elements));
        }
        Assert.True(identities.Count <= 8, $"40 dropped tensors of {elements} floats used {identities.Count} different arrays");
    }

    [Fact]
    public void Zeros_and_clones_are_still_cleared_and_copied()
    {
        var zeros = Tensor.Zeros(3, 1 << 19);
        Assert.All(zeros.ToArray(), v => Assert.Equal(0f, v));
        var source = Tensor.Full(2.5f, 1 << 19);
        var copy = source.Clone();
        source.AsSpan()[7] = 1f;
        Assert.Equal(2.5f, copy.AsSpan()[7]);
        Assert.All(copy.ToArray(), v => Assert.Equal(2.5f, v));
    }

    [Fact]
    public void Large_tensors_start_on_a_64_byte_boundary_and_small_ones_at_the_array_start()
    {
        const int length = StoragePool.PooledLength + 5;
        Tensor[] large =
        [
            Tensor.Zeros(length), Tensor.Full(1f, 3, length), Tensor.Uninitialized(length), Tensor.Ones(length).Clone(),
            Tensor.FromArray(new float[length], length), Tensor.Ones(2, length).Relu(),
        ];
        foreach (var tensor in large)
        {
            Assert.Equal(0, AddressOf(tensor) % 64);
        }
        var small = Tensor.Zeros(100);
        Assert.Equal(0, small.Offset);
        Assert.Equal(100, small.Storage.Length);
    }

    [Fact]
    public void Collections_that_find_nothing_are_requested_less_and_less_and_disposed_tensors_need_none()
    {
        const int elements = (1 << 18) + 419;   // 1 MiB
        DropUntilACollection(elements + 1);   // another length: its free list stays apart
        var live = new List<Tensor>();
        int before = StoragePool.RequestedCollections;
        for (int i = 0; i < 64; i++)
        {
            live.Add(Tensor.Full(1f, elements));   // all alive: a collection gives nothing back
        }
        int collections = StoragePool.RequestedCollections - before;
        // A fixed 4 MiB budget would collect about 16 times for these 64 MiB; a doubling one at most 5 times (4+8+16+32).
        Assert.True(collections <= 5, $"{collections} collections for 64 MiB of live tensors");
        foreach (var tensor in live)
        {
            tensor.Dispose();
        }
        long fresh = StoragePool.FreshArrays;
        before = StoragePool.RequestedCollections;
        for (int i = 0; i < 64; i++)
        {
            Tensor.Full(2f, elements).Dispose();
            live[i] = Tensor.Full(3f, elements);
        }
        Assert.Equal(0, StoragePool.RequestedCollections - before);
        Assert.Equal(fresh, StoragePool.FreshArrays);
        Assert.All(live, tensor => Assert.Equal(3f, tensor.AsSpan()[elements - 1]));
    }

    private static unsafe nint AddressOf(Tensor tensor) =>
        (nint)Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(tensor.AsSpan()));

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int DropTensor(int length) => RuntimeHelpers.GetHashCode(Tensor.Full(9f, length).Storage);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int DropFromArray(float[] data) => RuntimeHelpers.GetHashCode(Tensor.FromArray(data, data.Length).Storage);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Tensor FilledTensor(int length, float value) => Tensor.Full(value, length);

    // Earlier tests' collections that found nothing may have grown the pool's collection budget; one that finds the
    // dropped tensors brings it back to StoragePool.CollectionBudget.
    private static void DropUntilACollection(int elements)
    {
        int before = StoragePool.RequestedCollections;
        for (long dropped = 0; StoragePool.RequestedCollections == before && dropped <= 2 * StoragePool.MaxCollectionBudget; dropped += elements * sizeof(float))
        {
            DropTensor(elements);
        }
    }

    private static void CollectAndFinalize()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }
}
