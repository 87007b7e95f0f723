namespace NormSharp.Tests;

/// <summary>
/// The autograd engine's handling of gradient memory: each gradient is disposed once consumed, so a steady-state step
/// reuses its memory without a collection; tensors that others hold are never disposed by it.
/// </summary>
[Collection("StoragePool")]
public class EngineMemoryTests
{
    private const int Length = StoragePool.PooledLength + 517;

    [Fact]
    public void A_steady_state_backward_reuses_gradient_memory_without_requesting_a_collection()
    {
        var x = Tensor.Full(0.5f, Length);
        x.RequiresGrad = true;
        var gradients = new List<float[]>();
        void Step()
        {
            // Every forward output is disposed by hand, so only the engine's gradients decide whether memory comes back.
            using var doubled = x * 2f;
            using var rectified = doubled.Relu();
            using var tripled = rectified * 3f;
            using var loss = tripled.Sum();
            loss.Backward();
            Assert.Equal(6f, x.Grad!.AsSpan()[Length - 1]);
            gradients.Add(x.Grad.Storage);
            x.Grad.Dispose();
            x.Grad = null;
        }
        for (int i = 0; i < 3; i++)
        {
            Step();
        }
        int before = StoragePool.RequestedCollections;
        for (int i = 0; i < 40; i++)
        {
            Step();
        }
        // 40 steps hand out about 5 pooled arrays each, far past the pool's collection budget if none came back.
        Assert.Equal(before, StoragePool.RequestedCollections);
        Assert.True(gradients.Skip(3).Distinct().Count() <= 4, $"{gradients.Skip(3).Distinct().Count()} different arrays held x.Grad over 40 steps");
    }

    [Fact]
    public void The_callers_gradient_and_the_tensors_a_backward_returns_as_is_stay_usable()
    {
        var x = Tensor.Full(1f, Length);
        x.RequiresGrad = true;
        var upstream = Tensor.Full(2f, Length);
        (x + 1f).Backward(upstream);   // Add passes the caller's gradient straight on
        Assert.Equal(2f, upstream.AsSpan()[0]);
        Assert.Equal(2f, x.Grad!.AsSpan()[0]);
        Assert.NotSame(upstream.Storage, x.Grad.Storage);   // never shared: Grad accumulates in place
        (x + 1f).Backward(upstream);
        Assert.Equal(4f, x.Grad.AsSpan()[Length - 1]);
        Assert.Equal(2f, upstream.AsSpan()[Length - 1]);

        // A saved operand returned as the gradient itself (d(a·b)/da = b when the upstream gradient is 1).
        var a = Tensor.Full(1f, Length);
        a.RequiresGrad = true;
        var b = Tensor.Full(3f, Length);
        (a * b).Sum().Backward();
        Assert.Equal(3f, a.Grad!.AsSpan()[7]);
        Assert.Equal(3f, b.AsSpan()[7]);
        a.Grad.AsSpan()[7] = 0;
        Assert.Equal(3f, b.AsSpan()[7]);
    }

    [Fact]
    public void A_full_sum_gradient_reaches_the_leaf_as_its_value()
    {
        var x = Tensor.Zeros(2, 3, Length / 6);
        x.RequiresGrad = true;
        var bias = Tensor.Zeros(1, 3, 1);
        bias.RequiresGrad = true;
        (x + bias).Mean().Backward();
        float expected = 1f / x.Length;
        Assert.All(x.Grad!.ToArray(), value => Assert.Equal(expected, value));
        Assert.All(bias.Grad!.ToArray(), value => Assert.Equal(1f / 3, value, 6));
        x.Relu().Sum().Backward();   // accumulates into the existing gradient: ReLU of 0 passes nothing
        Assert.Equal(expected, x.Grad.AsSpan()[5]);
    }
    [Fact]
    public void Clearing_a_gradient_nobody_read_hands_its_memory_back_at_once()
    {
        var x = Tensor.Full(0.5f, Length);
        x.RequiresGrad = true;
        void Step()
        {
            using var tripled = x * 3f;
            using var loss = tripled.Sum();
            loss.Backward();
            x.Grad = null;   // as PyTorch's x.grad = None; the gradient was never read, so nobody else can hold it
        }
        PoolAssert.SteadyStepsReuseMemory(Step, warmUpSteps: 3, countedSteps: 40);

        // A gradient that was read may be held by whoever read it: clearing Grad leaves it alone.
        using (var loss = (x * 3f).Sum())
        {
            loss.Backward();
        }
        var read = x.Grad!;
        x.Grad = null;
        Assert.Equal(3f, read.AsSpan()[Length - 1]);
        Assert.False(StoragePool.IsFree(read.Storage));

        // So does a gradient set from outside: it belongs to the caller.
        var mine = Tensor.Full(1f, Length);
        x.Grad = mine;
        x.Grad = null;
        Assert.Equal(1f, mine.AsSpan()[Length - 1]);
        Assert.False(StoragePool.IsFree(mine.Storage));
    }
}
