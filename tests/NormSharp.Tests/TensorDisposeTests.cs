using NormSharp.Autograd;

namespace NormSharp.Tests;

// Tensor.Dispose hands pooled storage back at once. The pool is process-wide: each test uses lengths no other test
// allocates, runs in the non-parallel StoragePool collection, and keeps every tensor it made of its length alive
// until its last assertion, so that no finalizer can push another array of that length onto the free list meanwhile.
[Collection(StoragePoolCollection.Name)]
public class TensorDisposeTests
{
    [Fact]
    public void A_disposed_tensor_s_storage_goes_to_the_next_tensor_of_its_size_without_a_collection()
    {
        const int length = StoragePool.PooledLength + 1009;
        var first = Tensor.Full(4f, length);
        var storage = first.Storage;
        first.Dispose();
        var next = Tensor.Zeros(length);
        Assert.Same(storage, next.Storage);
        Assert.All(next.ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void A_disposed_tensor_refuses_access_and_can_be_disposed_again()
    {
        var tensor = Tensor.Full(1f, 3, StoragePool.PooledLength);
        tensor.Dispose();
        tensor.Dispose();
        var ex = Assert.Throws<ObjectDisposedException>(() => tensor.AsSpan());
        Assert.Contains("was disposed", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ObjectDisposedException>(() => tensor.ToArray());
        Assert.Throws<ObjectDisposedException>(() => tensor.Reshape(-1));
        Assert.Equal([3, StoragePool.PooledLength], tensor.Shape);   // the shape stays readable
        Assert.EndsWith("(disposed)", tensor.ToString(), StringComparison.Ordinal);
        var small = Tensor.Scalar(2f);
        small.Dispose();
        Assert.Throws<ObjectDisposedException>(() => small.Item());
    }

    [Fact]
    public void Storage_shared_with_a_view_is_reused_only_when_both_are_disposed()
    {
        const int length = StoragePool.PooledLength + 1013;
        var tensor = Tensor.Full(6f, 1, length);
        var view = tensor.Reshape(length);
        var storage = tensor.Storage;
        tensor.Dispose();
        var other = Tensor.Full(-1f, 1, length);
        Assert.NotSame(storage, other.Storage);
        Assert.All(view.ToArray(), v => Assert.Equal(6f, v));
        view.Dispose();
        Assert.Same(storage, Tensor.Zeros(length).Storage);
        GC.KeepAlive(other);
    }

    [Fact]
    public void Storage_a_pending_backward_uses_is_reused_only_after_the_backward_ran()
    {
        const int length = StoragePool.PooledLength + 1019;
        var a = Tensor.Full(2f, 1, length);
        a.RequiresGrad = true;
        var factor = Tensor.Full(3f, 2, length);
        var product = a * factor;   // [2, length]
        var loss = product.Sum();
        var storage = product.Storage;
        product.Dispose();
        Assert.False(StoragePool.IsFree(storage));
        var meanwhile = Tensor.Full(-1f, 2, length);
        Assert.NotSame(storage, meanwhile.Storage);
        loss.Backward();
        Assert.All(a.Grad!.ToArray(), v => Assert.Equal(6f, v));
        // Free, not "handed out next": the backward's own [2, length] gradient of the product may be returned too, and
        // in either order.
        Assert.True(StoragePool.IsFree(storage));
        GC.KeepAlive(factor);
        GC.KeepAlive(meanwhile);
    }

    [Fact]
    public void Disposing_an_output_nothing_consumes_releases_its_graph_and_storage()
    {
        const int length = StoragePool.PooledLength + 1031;
        var weight = Tensor.Full(0.5f, 1);
        weight.RequiresGrad = true;
        var input = Tensor.Full(2f, length);
        var output = input * weight;   // recorded: the weight requires gradients
        var storage = output.Storage;
        output.Dispose();
        Assert.Same(storage, Tensor.Zeros(length).Storage);
        Assert.Throws<ObjectDisposedException>(() => output.Backward(Tensor.Ones(length)));
        GC.KeepAlive(input);
    }

    [Fact]
    public void An_output_a_recorded_op_consumes_stays_readable_until_that_backward_ran_then_is_disposed()
    {
        const int length = StoragePool.PooledLength + 1033;
        var weight = Tensor.Full(0.5f, 1);
        weight.RequiresGrad = true;
        var output = Tensor.Full(2f, length) * weight;
        var loss = output.Log().Sum();   // Log's backward reads its input
        var storage = output.Storage;
        output.Dispose();
        Assert.NotSame(storage, Tensor.Full(-3f, length).Storage);
        Assert.Equal(1f, output.AsSpan()[length - 1]);   // as libtorch's graph, the pending backward holds it
        loss.Backward();
        Assert.Equal(length * 2f, weight.Grad!.Item(), 2);   // d/dw sum(log(2w)) = length / w
        Assert.Throws<ObjectDisposedException>(() => output.AsSpan());
        Assert.True(StoragePool.IsFree(storage));
    }

    [Fact]
    public void Disposing_the_last_output_of_a_chain_releases_the_intermediates_disposed_before_it()
    {
        const int length = StoragePool.PooledLength + 1039;
        var weight = Tensor.Full(0.5f, 1);
        weight.RequiresGrad = true;
        var input = Tensor.Full(2f, length);
        var first = input * weight;
        var second = first.Relu();
        var third = second * weight;
        var storages = new[] { first.Storage, second.Storage, third.Storage };
        first.Dispose();
        second.Dispose();
        Assert.False(StoragePool.IsFree(storages[0]));
        Assert.False(StoragePool.IsFree(storages[1]));
        third.Dispose();   // no backward can run through the chain any more
        Assert.All(storages, storage => Assert.True(StoragePool.IsFree(storage)));
        Assert.Throws<ObjectDisposedException>(() => first.AsSpan());
        GC.KeepAlive(input);
    }

    [Fact]
    public void A_second_backward_through_the_same_graph_is_refused()
    {
        var a = Tensor.FromArray([1f, 2f], 2);
        a.RequiresGrad = true;
        var loss = (a * a).Sum();
        loss.Backward();
        var ex = Assert.Throws<InvalidOperationException>(() => loss.Backward());
        Assert.Contains("second time", ex.Message, StringComparison.Ordinal);
        Assert.Equal([2f, 4f], a.Grad!.ToArray());
    }

    [Fact]
    public void Disposing_what_a_no_grad_loop_produces_reuses_one_array()
    {
        const int length = StoragePool.PooledLength + 1021;
        var input = Tensor.Full(1f, length);
        var arrays = new HashSet<float[]>(ReferenceEqualityComparer.Instance);
        using (new NoGrad())
        {
            for (int i = 0; i < 20; i++)
            {
                using var output = input.Relu();
                arrays.Add(output.Storage);
            }
        }
        Assert.Single(arrays);
        GC.KeepAlive(input);
    }
}
