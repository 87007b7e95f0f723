namespace NormSharp.Data;

/// <summary>
/// Image augmentation and normalization on a batch [N, C, H, W], each sample drawn independently (torchvision's
/// <c>RandomCrop(size, padding)</c>, <c>RandomHorizontalFlip(p)</c> and <c>Normalize(mean, std)</c> applied per sample
/// by a loader). Outside autograd: apply them to <c>batch.Images</c> before the forward. Randomness comes from the
/// given generator or <see cref="Generator.Default"/> (so <c>Init.ManualSeed</c> fixes it).
/// </summary>
public static class Transforms
{
    /// <summary>
    /// Pads each image by <paramref name="padding"/> zeros on every side, then cuts a random
    /// <paramref name="size"/> × <paramref name="size"/> window (the standard CIFAR augmentation is size 32, padding 4).
    /// </summary>
    /// <returns>A new tensor [N, C, size, size].</returns>
    /// <exception cref="ArgumentException">The input is not 4-D, or the window is larger than the padded image.</exception>
    public static Tensor RandomCrop(Tensor images, int size, int padding = 0, Generator? generator = null)
    {
        CheckImages(images, nameof(RandomCrop));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        ArgumentOutOfRangeException.ThrowIfNegative(padding);
        int[] shape = images.Shape;
        int samples = shape[0], channels = shape[1], height = shape[2], width = shape[3];
        if (size > height + 2 * padding || size > width + 2 * padding)
        {
            throw new ArgumentException(
                $"RandomCrop of size {size} does not fit images {ShapeUtil.Format(shape)} padded by {padding} ({height + 2 * padding} × {width + 2 * padding}).", nameof(size));
        }
        var random = generator ?? Generator.Default;
        var output = Tensor.Zeros(samples, channels, size, size);
        var source = images.AsSpan();
        var destination = output.AsSpan();
        for (int n = 0; n < samples; n++)
        {
            // Top-left corner of the window in padded coordinates, uniform as torchvision's.
            int top = random.NextInt(height + 2 * padding - size + 1) - padding;
            int left = random.NextInt(width + 2 * padding - size + 1) - padding;
            for (int c = 0; c < channels; c++)
            {
                for (int y = 0; y < size; y++)
                {
                    int sourceY = top + y;
                    if (sourceY < 0 || sourceY >= height)
                    {
                        continue;
                    }
                    int from = Math.Max(0, -left), to = Math.Min(size, width - left);
                    if (to > from)
                    {
                        source.Slice(((n * channels + c) * height + sourceY) * width + left + from, to - from)
                            .CopyTo(destination.Slice(((n * channels + c) * size + y) * size + from, to - from));
                    }
                }
            }
        }
        return output;
    }

    /// <summary>Mirrors each image left to right with probability <paramref name="p"/> (default 0.5).</summary>
    /// <returns>A new tensor of the input's shape.</returns>
    /// <exception cref="ArgumentException">The input is not 4-D, or p is outside [0, 1].</exception>
    public static Tensor RandomHorizontalFlip(Tensor images, double p = 0.5, Generator? generator = null)
    {
        CheckImages(images, nameof(RandomHorizontalFlip));
        if (!(p >= 0 && p <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(p), p, $"Flip probability must be in [0, 1], got {p}.");
        }
        var random = generator ?? Generator.Default;
        var output = images.Detach().Clone();
        int samples = images.Size(0), rows = images.Size(1) * images.Size(2), width = images.Size(3);
        var pixels = output.AsSpan();
        for (int n = 0; n < samples; n++)
        {
            if (random.NextDouble() < p)
            {
                for (int row = 0; row < rows; row++)
                {
                    pixels.Slice((n * rows + row) * width, width).Reverse();
                }
            }
        }
        return output;
    }

    /// <summary>Per channel: (x − mean[c]) / std[c].</summary>
    /// <returns>A new tensor of the input's shape.</returns>
    /// <exception cref="ArgumentException">The input is not 4-D, the lists do not have one value per channel, or a std is not positive.</exception>
    public static Tensor Normalize(Tensor images, IReadOnlyList<float> mean, IReadOnlyList<float> std)
    {
        CheckImages(images, nameof(Normalize));
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(std);
        int channels = images.Size(1);
        if (mean.Count != channels || std.Count != channels)
        {
            throw new ArgumentException(
                $"Normalize expected {channels} means and standard deviations for images {ShapeUtil.Format(images.Shape)}, got {mean.Count} and {std.Count}.", nameof(mean));
        }
        if (std.Any(s => !(s > 0)))
        {
            throw new ArgumentException($"Normalize needs standard deviations > 0, got [{string.Join(", ", std)}].", nameof(std));
        }
        var output = images.Detach().Clone();
        var pixels = output.AsSpan();
        int plane = images.Size(2) * images.Size(3);
        for (int block = 0; block < images.Size(0) * channels; block++)
        {
            int c = block % channels;
            foreach (ref float v in pixels.Slice(block * plane, plane))
            {
                v = (v - mean[c]) / std[c];
            }
        }
        return output;
    }

    private static void CheckImages(Tensor images, string op)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Rank != 4)
        {
            throw new ArgumentException($"{op} expected a batch of images [N, C, H, W], got {images.Rank}-D shape {ShapeUtil.Format(images.Shape)}.", nameof(images));
        }
    }
}
