using NormSharp.Functional;
using NormSharp.Nn;
using NormSharp.Optim;

namespace NormSharp.Tests;

/// <summary>
/// A steady-state training step reuses its memory deterministically: every activation, gradient and saved tensor comes
/// back to the storage pool within the step, so after warm-up a step takes no fresh pooled-size array from the runtime
/// and the pool requests no collection. Counted through the pool's own counters (<see cref="StoragePool.FreshArrays"/>,
/// <see cref="StoragePool.RequestedCollections"/>), never through timing.
/// </summary>
[Collection(StoragePoolCollection.Name)]
public class TrainingStepMemoryTests
{
    private const int Batch = 16;

    [Fact]
    public void A_sequential_cnn_step_written_without_dispose_takes_no_fresh_memory_and_requests_no_collection()
    {
        // Activations of 100,352 and 25,088 floats: pooled sizes (StoragePool.PooledLength is 21,250).
        var generator = new Generator(3);
        var model = new Sequential(
            new Conv2d(1, 8, 3, padding: 1, bias: false, generator: generator), new BatchNorm2d(8), new ReLU(),
            new MaxPool2d(2), new Conv2d(8, 8, 3, padding: 1, generator: generator), new ReLU(), new Flatten(),
            new Linear(8 * 14 * 14, 10, generator: generator));
        AssertSteadyStepsReuseMemory(model, new Adam(model.Parameters()));
    }

    [Fact]
    public void A_residual_block_that_disposes_its_intermediates_takes_no_fresh_memory_and_requests_no_collection()
    {
        var model = new Sequential(new ResidualBlock(new Generator(5)), new Flatten(), new Linear(4 * 28 * 28, 10, generator: new Generator(6)));
        AssertSteadyStepsReuseMemory(model, new SGD(model.Parameters(), 0.05, momentum: 0.9));
    }

    [Fact]
    public void Dropout_masks_go_back_when_their_backward_ran()
    {
        // [16, 2048] activations and masks: pooled sizes.
        var generator = new Generator(7);
        var model = new Sequential(
            new Flatten(), new Linear(28 * 28, 2048, generator: generator), new ReLU(), new Dropout(0.5, generator: new Generator(8)),
            new Linear(2048, 10, generator: generator));
        AssertSteadyStepsReuseMemory(model, new SGD(model.Parameters(), 0.01));
    }

    [Fact]
    public void Scratch_of_an_unrecorded_forward_goes_back_at_once()
    {
        int length = StoragePool.PooledLength + 1049;
        var input = Tensor.Full(1f, 4, length);
        var generator = new Generator(9);
        var labels = new[] { 0, 1, 2, 3 };
        using (new Autograd.NoGrad())
        {
            // Warm: the arrays of a dropout's mask and output and of cross-entropy's probabilities.
            F.Dropout(input, 0.5, training: true, generator: generator).Dispose();
            F.CrossEntropy(input, labels);
            long fresh = StoragePool.FreshArrays;
            for (int i = 0; i < 10; i++)
            {
                F.Dropout(input, 0.5, training: true, generator: generator).Dispose();
                Assert.Equal(MathF.Log(length), F.CrossEntropy(input, labels).Item(), 3);
            }
            Assert.Equal(fresh, StoragePool.FreshArrays);
        }
    }

    [Fact]
    public void Sequential_keeps_its_input_and_output_and_its_gradients_match_the_layers_called_one_by_one()
    {
        var generator = new Generator(11);
        var layers = new Module[] { new Conv2d(1, 8, 3, padding: 1, generator: generator), new ReLU(), new MaxPool2d(2), new Flatten(), new Linear(8 * 14 * 14, 3, generator: generator) };
        var model = new Sequential(layers);
        var input = Tensor.FromArray(Enumerable.Range(0, 2 * 28 * 28).Select(i => MathF.Sin(i * 0.37f)).ToArray(), 2, 1, 28, 28);
        var output = model.Forward(input);
        output.Sum().Backward();
        var viaSequential = model.Parameters().Select(p => p.Grad!.ToArray()).ToList();
        Assert.NotNull(input.ToArray());   // not disposed: the caller's
        var expected = output.ToArray();   // not disposed: the caller's

        model.ZeroGrad();
        var x = input;
        foreach (var layer in layers)
        {
            x = layer.Forward(x);
        }
        Assert.Equal(expected, x.ToArray());
        x.Sum().Backward();
        var oneByOne = model.Parameters().Select(p => p.Grad!.ToArray()).ToList();
        for (int i = 0; i < oneByOne.Count; i++)
        {
            Assert.Equal(oneByOne[i], viaSequential[i]);
        }
    }

    // Three warm-up steps, then five counted ones that must take no fresh array and request no collection, while the
    // loss falls (the steps train); nothing is disposed by hand.
    private static void AssertSteadyStepsReuseMemory(Module model, Optimizer optimizer)
    {
        var input = Tensor.FromArray(Enumerable.Range(0, Batch * 28 * 28).Select(i => MathF.Cos(i * 0.011f)).ToArray(), Batch, 1, 28, 28);
        var labels = Enumerable.Range(0, Batch).Select(i => i % 10).ToArray();
        var losses = new List<float>();
        void Step()
        {
            var loss = F.CrossEntropy(model.Forward(input), labels);
            optimizer.ZeroGrad();
            loss.Backward();
            optimizer.Step();
            losses.Add(loss.Item());
        }
        PoolAssert.SteadyStepsReuseMemory(Step, warmUpSteps: 3, countedSteps: 5);
        Assert.True(losses[^1] < losses[0], $"the loss did not fall: {string.Join(", ", losses)}");
    }

    /// <summary>conv-BN-ReLU-conv-BN plus the input, then ReLU, written as a user disposing what it no longer needs.</summary>
    private sealed class ResidualBlock : Module
    {
        private readonly Conv2d conv1, conv2, widen;
        private readonly BatchNorm2d norm1, norm2;

        public ResidualBlock(Generator generator)
        {
            widen = RegisterModule("widen", new Conv2d(1, 4, 1, bias: false, generator: generator));
            conv1 = RegisterModule("conv1", new Conv2d(4, 4, 3, padding: 1, bias: false, generator: generator));
            norm1 = RegisterModule("bn1", new BatchNorm2d(4));
            conv2 = RegisterModule("conv2", new Conv2d(4, 4, 3, padding: 1, bias: false, generator: generator));
            norm2 = RegisterModule("bn2", new BatchNorm2d(4));
        }

        public override Tensor Forward(Tensor input)
        {
            using var x = widen.Forward(input);
            using var a = conv1.Forward(x);
            using var b = norm1.Forward(a);
            using var c = b.Relu();
            using var d = conv2.Forward(c);
            using var e = norm2.Forward(d);
            using var sum = e + x;
            return sum.Relu();
        }
    }
}
