namespace NormSharp.Tests;

public class LargeAllocationsTests
{
    [Fact]
    public void Allocating_more_than_the_budget_in_large_tensors_runs_a_full_collection()
    {
        const int elements = 1 << 20;   // 4 MiB each, above the 1 MiB counted size
        int tensors = (int)(LargeAllocations.Budget / ((long)elements * sizeof(float))) + 1;
        int before = GC.CollectionCount(2);
        for (int i = 0; i < tensors; i++)
        {
            var t = i % 2 == 0 ? Tensor.Zeros(elements) : Tensor.Uninitialized(elements);
            Assert.Equal(elements, t.Length);
        }
        Assert.True(GC.CollectionCount(2) > before, $"no full collection after {tensors} tensors of {elements} floats");
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
}
