using NormSharp.Autograd;
using NormSharp.Data;
using NormSharp.Functional;
using NormSharp.Nn;
using NormSharp.Optim;

namespace NormSharp.Tests;

// Tensor.NewDisposeScope: what a scope disposes, what survives it, and that a step in a scope reuses its memory. The
// tests that watch the pool's counters run in the non-parallel StoragePool collection (see TensorDisposeTests).
[Collection(StoragePoolCollection.Name)]
public class DisposeScopeTests
{
    [Fact]
    public void Tensors_made_in_a_scope_are_disposed_when_it_ends_and_older_ones_are_not()
    {
        var before = Tensor.Full(2f, 3, 4);
        Tensor product, view, fromArray;
        using (var scope = Tensor.NewDisposeScope())
        {
            product = before * before;
            view = product.Reshape(12);
            fromArray = Tensor.FromArray([1f, 2f], 2);
            Assert.Equal(3, scope.Count);
        }
        Assert.Throws<ObjectDisposedException>(() => product.ToArray());
        Assert.Throws<ObjectDisposedException>(() => view.ToArray());
        Assert.Throws<ObjectDisposedException>(() => fromArray.ToArray());
        Assert.All(before.ToArray(), v => Assert.Equal(2f, v));
    }

    [Fact]
    public void A_moved_tensor_goes_to_the_outer_scope_and_a_detached_one_to_none()
    {
        Tensor moved, detached;
        using (var outer = Tensor.NewDisposeScope())
        {
            using (Tensor.NewDisposeScope())
            {
                moved = Tensor.Full(1f, 5).MoveToOuterDisposeScope();
                detached = Tensor.Full(3f, 5).DetachFromDisposeScope();
            }
            Assert.Equal(5f, moved.Sum().Item());
            Assert.Equal(2, outer.Count);   // the moved tensor and its sum, made in the outer scope once the inner one ended
        }
        Assert.Throws<ObjectDisposedException>(() => moved.ToArray());
        Assert.Equal(15f, detached.Sum().Item());

        Tensor noOuter;
        using (Tensor.NewDisposeScope())
        {
            noOuter = Tensor.Full(4f, 2).MoveToOuterDisposeScope();
        }
        Assert.Equal([4f, 4f], noOuter.ToArray());
    }

    [Fact]
    public void A_leaf_s_gradient_survives_the_scope_and_the_gradients_of_Gradients_Of_do_not()
    {
        var x = Tensor.FromArray([1f, -2f, 3f], 3);
        x.RequiresGrad = true;
        Tensor[] returned;
        using (Tensor.NewDisposeScope())
        {
            (x * x).Sum().Backward();
            returned = Gradients.Of((x * 3f).Sum(), [x]);
            Assert.Equal([3f, 3f, 3f], returned[0].ToArray());
        }
        Assert.Equal([2f, -4f, 6f], x.Grad!.ToArray());
        Assert.Throws<ObjectDisposedException>(() => returned[0].ToArray());

        using (Tensor.NewDisposeScope())
        {
            x.Grad = Tensor.FromArray([7f, 8f, 9f], 3);   // set inside: the leaf holds it beyond the scope
        }
        Assert.Equal([7f, 8f, 9f], x.Grad!.ToArray());
    }

    [Fact]
    public void A_loss_moved_out_of_its_scope_still_back_propagates_through_what_the_scope_made()
    {
        // ReLU saves a bit mask it made itself (pooled: 32 elements a float) and the product saves its inputs: all made
        // in the scope, all needed after it.
        const int columns = 8 * StoragePool.PooledLength + 40;
        int maskFloats = (Kernels.Activation.MaskBytes(4 * columns) + sizeof(float) - 1) / sizeof(float);
        Assert.True(maskFloats >= StoragePool.PooledLength);
        var generator = new Generator(11);
        var x = Tensor.Randn(generator, 4, columns);
        x.RequiresGrad = true;
        var weight = Tensor.Randn(generator, 4, columns);
        var expected = Gradients.Of(((x * weight).Relu() * weight).Sum(), [x])[0].ToArray();

        Tensor loss;
        using (Tensor.NewDisposeScope())
        {
            loss = ((x * weight).Relu() * weight).Sum().MoveToOuterDisposeScope();
        }
        // Whatever takes storage now must not get the saved tensors' arrays before the backward ran: a mask or a
        // product overwritten with -9 would change the gradient (a disposed one would throw).
        var meanwhile = new List<Tensor> { Tensor.Full(-9f, maskFloats), Tensor.Full(-9f, maskFloats) };
        meanwhile.AddRange(Enumerable.Range(0, 4).Select(_ => Tensor.Full(-9f, 4, columns)));
        loss.Backward();
        Assert.Equal(expected, x.Grad!.ToArray());
        GC.KeepAlive(meanwhile);
    }

    [Fact]
    public void A_user_written_operation_s_saved_tensors_outlive_the_scope_until_its_backward()
    {
        var x = Tensor.FromArray([1f, -2f, 3f], 3);
        x.RequiresGrad = true;
        Tensor loss;
        using (Tensor.NewDisposeScope())
        {
            loss = new Twice().Forward(x).Sum().MoveToOuterDisposeScope();
        }
        loss.Backward();
        Assert.Equal([2f, 2f, 2f], x.Grad!.ToArray());
    }

    // y = 2x, keeping for its backward a factor tensor it made in the forward and an absent (null) one.
    private sealed class Twice : Function
    {
        public Tensor Forward(Tensor x)
        {
            var factor = Tensor.Full(2f, x.Shape);
            var y = Tensor.FromArray([.. x.ToArray().Select(v => 2 * v)], x.Shape);
            SaveForBackward(factor, null!);
            return Record(y, x);
        }

        public override Tensor?[] Backward(Tensor gradOutput) =>
            [Tensor.FromArray([.. gradOutput.ToArray().Zip(SavedTensors[0].ToArray(), (g, f) => g * f)], gradOutput.Shape)];
    }

    [Fact]
    public void A_model_and_a_data_set_made_inside_a_scope_keep_their_tensors()
    {
        Sequential model;
        SGD optimizer;
        using (Tensor.NewDisposeScope())
        {
            model = new Sequential(new Linear(3, 2, generator: new Generator(1)), new BatchNorm1d(2));
            optimizer = new SGD(model.Parameters(), 0.1, momentum: 0.9);
        }
        var input = Tensor.FromArray([1f, 2f, 3f, -1f, 0f, 2f], 2, 3);
        for (int step = 0; step < 2; step++)
        {
            using var scope = Tensor.NewDisposeScope();
            var loss = model.Forward(input).Pow(2f).Sum();
            optimizer.ZeroGrad();
            loss.Backward();
            optimizer.Step();
        }
        Assert.All(model.Parameters(), p => Assert.Equal(p.Length, p.ToArray().Length));
        Assert.All(model.StateDict().Values, t => Assert.True(t.ToArray().All(float.IsFinite)));

        Dataset data;
        using (Tensor.NewDisposeScope())
        {
            data = new Dataset(Tensor.Full(1f, 6, 2), [0, 1, 0, 1, 0, 1]);
        }
        var loader = new DataLoader(data, 2, shuffle: true, generator: new Generator(2));
        using (var scope = Tensor.NewDisposeScope())
        {
            using var batches = loader.GetEnumerator();   // the loader's view of the images is made at the first MoveNext
            Assert.True(batches.MoveNext());
            scope.Dispose();
            Assert.True(batches.MoveNext());
            Assert.Equal([1f, 1f, 1f, 1f], batches.Current.Images.ToArray());
        }
    }

    [Fact]
    public void A_scope_ends_on_its_own_thread_and_ends_the_scopes_left_open_inside_it()
    {
        var outer = Tensor.NewDisposeScope();
        var inner = Tensor.NewDisposeScope();
        try
        {
            var made = Tensor.Zeros(2);
            var fromOtherThread = OnOtherThread(() => Record.Exception(inner.Dispose));
            Assert.IsType<InvalidOperationException>(fromOtherThread);
            Assert.Contains("thread", fromOtherThread!.Message, StringComparison.Ordinal);
            outer.Dispose();   // ends inner first
            Assert.Throws<ObjectDisposedException>(() => made.ToArray());
            Assert.Null(DisposeScope.Current);
            outer.Dispose();   // safe to repeat, and so is ending the inner one now
            inner.Dispose();
            Assert.Null(DisposeScope.Current);
        }
        finally
        {
            inner.Dispose();
            outer.Dispose();
        }
    }

    [Fact]
    public void A_tensor_made_on_another_thread_joins_no_scope()
    {
        using var scope = Tensor.NewDisposeScope();
        var made = OnOtherThread(() => Tensor.Full(1f, 3));
        Assert.Equal(0, scope.Count);
        scope.Dispose();
        Assert.Equal([1f, 1f, 1f], made.ToArray());
    }

    [Fact]
    public void Dropped_results_in_a_scope_take_no_fresh_memory_and_request_no_collection()
    {
        // The forms of the bench's rows that drop their results: a broadcast under NoGrad, and a product summed and
        // back-propagated whose leaf gradient is dropped.
        const int channels = 7;
        int length = StoragePool.PooledLength + 1051;
        var x = Tensor.Full(0.5f, 2, channels, length);
        var g = Tensor.Full(2f, 2, channels, length);
        var bias = Tensor.Full(3f, 1, channels, 1);
        x.RequiresGrad = true;
        PoolAssert.SteadyStepsReuseMemory(() =>
        {
            using var scope = Tensor.NewDisposeScope();
            using (new NoGrad())
            {
                _ = x * bias;
            }
            (x * g).Sum().Backward();
            x.Grad = null;
        }, warmUpSteps: 2, countedSteps: 30);
    }

    [Fact]
    public void A_training_step_in_a_scope_takes_no_fresh_memory_and_requests_no_collection()
    {
        // Nothing disposed by hand: a model of plain modules, loss and logits dropped.
        var generator = new Generator(13);
        var model = new Sequential(
            new Conv2d(1, 8, 3, padding: 1, bias: false, generator: generator), new BatchNorm2d(8), new ReLU(),
            new Flatten(), new Linear(8 * 28 * 28, 10, generator: generator));
        var optimizer = new Adam(model.Parameters());
        var input = Tensor.Randn(generator, 32, 1, 28, 28);   // 25,088 floats: a pooled size
        int[] labels = [.. Enumerable.Range(0, 32).Select(i => i % 10)];
        PoolAssert.SteadyStepsReuseMemory(() =>
        {
            using var scope = Tensor.NewDisposeScope();
            var scaled = input * 0.5f;   // dropped, and not part of the graph (input needs no gradient)
            var logits = model.Forward(scaled);
            var loss = F.CrossEntropy(logits, labels);
            optimizer.ZeroGrad();
            loss.Backward();
            optimizer.Step();
        }, warmUpSteps: 2, countedSteps: 10);
    }

    private static T OnOtherThread<T>(Func<T> work)
    {
        T result = default!;
        var thread = new Thread(() => result = work());
        thread.Start();
        thread.Join();
        return result;
    }
}
