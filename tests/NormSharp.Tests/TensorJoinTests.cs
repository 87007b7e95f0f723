namespace NormSharp.Tests;

/// <summary>Cat, Stack, Squeeze and Unsqueeze: hand-computed values, empty parts, views, and error messages.</summary>
public class TensorJoinTests
{
    [Fact]
    public void Cat_along_columns_interleaves_rows()
    {
        var a = Tensor.FromArray([1, 2, 3, 4], 2, 2);
        var b = Tensor.FromArray([5, 6], 2, 1);
        var joined = Tensor.Cat([a, b], 1);
        Assert.Equal(new[] { 2, 3 }, joined.Shape);
        Assert.Equal(new float[] { 1, 2, 5, 3, 4, 6 }, joined.ToArray());
    }

    [Fact]
    public void Cat_with_an_empty_part_routes_gradients_to_the_others()
    {
        var empty = Tensor.Zeros(2, 0, 3);
        var full = Tensor.FromArray([1, 2, 3, 4, 5, 6], 2, 1, 3);
        empty.RequiresGrad = true;
        full.RequiresGrad = true;
        var joined = Tensor.Cat([empty, full], 1);
        Assert.Equal(new[] { 2, 1, 3 }, joined.Shape);
        (joined * Tensor.FromArray([1, 2, 3, 4, 5, 6], 2, 1, 3)).Sum().Backward();
        Assert.Equal(new[] { 2, 0, 3 }, empty.Grad!.Shape);
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6 }, full.Grad!.ToArray());
    }

    [Fact]
    public void Stack_puts_the_new_dimension_where_asked()
    {
        var a = Tensor.FromArray([1, 2, 3], 3);
        var b = Tensor.FromArray([4, 5, 6], 3);
        Assert.Equal(new float[] { 1, 4, 2, 5, 3, 6 }, Tensor.Stack([a, b], -1).ToArray());
        Assert.Equal(new[] { 3, 2 }, Tensor.Stack([a, b], 1).Shape);
    }

    [Fact]
    public void Cat_and_Stack_name_both_shapes_when_they_differ()
    {
        var cat = Assert.Throws<ArgumentException>(() => Tensor.Cat([Tensor.Zeros(2, 3), Tensor.Zeros(3, 4)], 0));
        Assert.Contains("[2, 3]", cat.Message, StringComparison.Ordinal);
        Assert.Contains("[3, 4]", cat.Message, StringComparison.Ordinal);
        var stack = Assert.Throws<ArgumentException>(() => Tensor.Stack([Tensor.Zeros(2), Tensor.Zeros(2), Tensor.Zeros(3)], 0));
        Assert.Contains("[2] at entry 0", stack.Message, StringComparison.Ordinal);
        Assert.Contains("[3] at entry 2", stack.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => Tensor.Cat([], 0));
        Assert.Throws<ArgumentException>(() => Tensor.Stack([], 0));
    }

    [Fact]
    public void Squeeze_and_Unsqueeze_share_storage()
    {
        var x = Tensor.FromArray([1, 2, 3], 1, 3);
        var squeezed = x.Squeeze(0);
        Assert.Equal(new[] { 3 }, squeezed.Shape);
        Assert.Equal(new[] { 1, 3 }, x.Squeeze(1).Shape);
        var unsqueezed = squeezed.Unsqueeze(-1);
        Assert.Equal(new[] { 3, 1 }, unsqueezed.Shape);
        unsqueezed.AsSpan()[2] = 30;
        Assert.Equal(30, x.ToArray()[2]);
    }

    [Fact]
    public void Unsqueeze_out_of_range_names_the_valid_range()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Tensor.Zeros(2, 3).Unsqueeze(3));
        Assert.Contains("[-3, 2]", ex.Message, StringComparison.Ordinal);
    }
}
