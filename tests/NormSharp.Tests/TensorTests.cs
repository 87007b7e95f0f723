namespace NormSharp.Tests;

public class TensorTests
{
    [Fact]
    public void FromArray_copies_data_and_keeps_shape()
    {
        var data = new float[] { 1, 2, 3, 4, 5, 6 };
        var t = Tensor.FromArray(data, 2, 3);
        data[0] = 100;
        Assert.Equal(new[] { 2, 3 }, t.Shape);
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6 }, t.ToArray());
    }

    [Fact]
    public void FromArray_rejects_shape_with_wrong_count()
    {
        var ex = Assert.Throws<ArgumentException>(() => Tensor.FromArray(new float[5], 2, 3));
        Assert.Contains("[2, 3]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("5", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Broadcast_add_matches_hand_computed()
    {
        var a = Tensor.FromArray([1, 2, 3, 4, 5, 6], 2, 3);
        var b = Tensor.FromArray([10, 20, 30], 3);
        Assert.Equal(new float[] { 11, 22, 33, 14, 25, 36 }, (a + b).ToArray());
        var c = Tensor.FromArray([100, 200], 2, 1);
        Assert.Equal(new float[] { 101, 102, 103, 204, 205, 206 }, (a + c).ToArray());
    }

    [Fact]
    public void Broadcast_of_incompatible_shapes_names_both()
    {
        var ex = Assert.Throws<ArgumentException>(() => Tensor.Zeros(2, 3) * Tensor.Zeros(4));
        Assert.Contains("[2, 3]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[4]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Sum_and_mean_along_axis()
    {
        var a = Tensor.FromArray([1, 2, 3, 4, 5, 6], 2, 3);
        Assert.Equal(new float[] { 5, 7, 9 }, a.Sum(0).ToArray());
        Assert.Equal(new float[] { 2, 5 }, a.Mean(1).ToArray());
        Assert.Equal(new[] { 2, 1 }, a.Sum(1, keepDim: true).Shape);
        Assert.Equal(21f, a.Sum().Item());
    }

    [Fact]
    public void MatMul_matches_hand_computed_and_rejects_mismatch()
    {
        var a = Tensor.FromArray([1, 2, 3, 4, 5, 6], 2, 3);
        var b = Tensor.FromArray([1, 0, 0, 1, 1, 1], 3, 2);
        Assert.Equal(new float[] { 4, 5, 10, 11 }, a.MatMul(b).ToArray());
        var ex = Assert.Throws<ArgumentException>(() => a.MatMul(a));
        Assert.Contains("[2, 3] @ [2, 3]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ArgMax_picks_first_maximum()
    {
        var a = Tensor.FromArray([1, 3, 3, 9, 2, 0], 2, 3);
        Assert.Equal(new[] { 1, 0 }, a.ArgMax(1));
    }

    [Fact]
    public void Slice_and_index_share_storage()
    {
        var a = Tensor.FromArray([1, 2, 3, 4, 5, 6], 3, 2);
        var row = a[1];
        Assert.Equal(new[] { 2 }, row.Shape);
        Assert.Equal(new float[] { 3, 4 }, row.ToArray());
        a.Slice(1, 2).AsSpan()[0] = 42;
        Assert.Equal(42, a.ToArray()[2]);
    }

    [Fact]
    public void Permute_moves_channels_last()
    {
        var x = Tensor.Arange(24).Reshape(2, 3, 4);
        var y = x.Permute(0, 2, 1);
        Assert.Equal(new[] { 2, 4, 3 }, y.Shape);
        // y[n, l, c] = x[n, c, l]
        Assert.Equal(x.ToArray()[(1 * 3 + 2) * 4 + 3], y.ToArray()[(1 * 4 + 3) * 3 + 2]);
    }

    [Fact]
    public void Reshape_infers_one_dimension_and_rejects_bad_counts()
    {
        var x = Tensor.Zeros(4, 6);
        Assert.Equal(new[] { 3, 8 }, x.Reshape(3, -1).Shape);
        Assert.Throws<ArgumentException>(() => x.Reshape(5, -1));
    }
}
