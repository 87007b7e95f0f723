using NormSharp.Data;

namespace NormSharp.Tests.Data;

public class DatasetTests
{
    [Fact]
    public void FromIdx_standardizes_pixels_and_adds_a_channel_dimension()
    {
        using var dir = new IdxFiles.TempDir();
        var images = dir.Write("i.gz", IdxFiles.Gzip(IdxFiles.Images(4, 3, 2)));
        var labels = dir.Write("l", IdxFiles.Labels(4));
        var data = Dataset.FromIdx(images, labels, mean: 0.25f, std: 0.5f);
        Assert.Equal(new[] { 4, 1, 3, 2 }, data.Images.Shape);
        Assert.Equal(new[] { 1, 3, 2 }, data.SampleShape);
        Assert.Equal(new[] { 0, 1, 2, 3 }, data.Labels.ToArray());
        Assert.Equal(4, data.ClassCount);
        var pixels = IdxFiles.Pixels(4, 3, 2);
        var values = data.Images.ToArray();
        for (int i = 0; i < pixels.Length; i++)
        {
            double expected = (pixels[i] / 255.0 - 0.25) / 0.5;
            Assert.Equal(expected, values[i], 5);
        }
    }

    [Fact]
    public void FromIdx_rejects_images_and_labels_of_different_counts()
    {
        var ex = Assert.Throws<InvalidDataException>(() => Dataset.FromIdx(
            new MemoryStream(IdxFiles.Images(5, 2, 2)), new MemoryStream(IdxFiles.Labels(6)), "imgs", "lbls"));
        Assert.Contains("imgs holds 5 images", ex.Message, StringComparison.Ordinal);
        Assert.Contains("lbls holds 6 labels", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_rejects_count_mismatch_and_negative_labels()
    {
        Assert.Throws<ArgumentException>(() => new Dataset(Tensor.Zeros(3, 2), [0, 1]));
        Assert.Throws<ArgumentException>(() => new Dataset(Tensor.Zeros(2, 2), [0, -1]));
    }

    [Fact]
    public void Subset_and_Take_pick_matching_images_and_labels()
    {
        var data = new Dataset(Tensor.FromArray([0, 0, 1, 1, 2, 2, 3, 3], 4, 2), [0, 1, 2, 3]);
        var subset = data.Subset([3, 1]);
        Assert.Equal(new float[] { 3, 3, 1, 1 }, subset.Images.ToArray());
        Assert.Equal(new[] { 3, 1 }, subset.Labels.ToArray());
        var first = data.Take(2);
        Assert.Equal(new float[] { 0, 0, 1, 1 }, first.Images.ToArray());
        Assert.Equal(new[] { 0, 1 }, first.Labels.ToArray());
        Assert.Same(data, data.Take(10));
        Assert.Throws<ArgumentOutOfRangeException>(() => data.Subset([4]));
    }
}
