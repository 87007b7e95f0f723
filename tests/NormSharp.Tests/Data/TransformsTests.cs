using NormSharp.Data;

namespace NormSharp.Tests.Data;

/// <summary>RandomCrop with padding, RandomHorizontalFlip and Normalize on hand-built batches.</summary>
public class TransformsTests
{
    [Fact]
    public void RandomCrop_with_padding_keeps_every_window_inside_the_padded_image()
    {
        // One 1×2×2 image [1 2; 3 4]: with padding 1 and size 2, each crop is a 2×2 window of the 4×4 padded image.
        var image = Tensor.FromArray([1, 2, 3, 4], 1, 1, 2, 2);
        var seen = new HashSet<string>();
        var generator = new Generator(3);
        for (int trial = 0; trial < 200; trial++)
        {
            var crop = Transforms.RandomCrop(image, size: 2, padding: 1, generator).ToArray();
            seen.Add(string.Join(",", crop));
        }
        // 3 × 3 window positions, all distinct here, all reached; the centre one is the image itself.
        Assert.Equal(9, seen.Count);
        Assert.Contains("1,2,3,4", seen);
        Assert.Contains("0,0,0,1", seen);
        Assert.Contains("4,0,0,0", seen);
        Assert.Throws<ArgumentException>(() => Transforms.RandomCrop(image, size: 5, padding: 1));
    }

    [Fact]
    public void RandomHorizontalFlip_mirrors_rows_with_probability_p()
    {
        var image = Tensor.FromArray([1, 2, 3, 4, 5, 6], 1, 1, 2, 3);
        Assert.Equal(new float[] { 3, 2, 1, 6, 5, 4 }, Transforms.RandomHorizontalFlip(image, p: 1).ToArray());
        Assert.Equal(image.ToArray(), Transforms.RandomHorizontalFlip(image, p: 0).ToArray());
        var batch = Tensor.Zeros(2000, 1, 1, 2);
        for (int n = 0; n < 2000; n++)
        {
            batch.AsSpan()[n * 2] = 1;
        }
        var flipped = Transforms.RandomHorizontalFlip(batch, p: 0.3, new Generator(5)).ToArray();
        double share = Enumerable.Range(0, 2000).Count(n => flipped[n * 2 + 1] == 1) / 2000.0;
        Assert.InRange(share, 0.25, 0.35);
    }

    [Fact]
    public void Normalize_works_per_channel_and_names_the_channel_count()
    {
        var images = Tensor.FromArray([1, 1, 3, 3], 1, 2, 1, 2);
        Assert.Equal(new float[] { 0, 0, 1, 1 }, Transforms.Normalize(images, [1, 1], [1, 2]).ToArray());
        var error = Assert.Throws<ArgumentException>(() => Transforms.Normalize(images, [0.5f, 0.5f, 0.5f], [1, 1, 1]));
        Assert.Contains("expected 2 means", error.Message, StringComparison.Ordinal);
    }
}
