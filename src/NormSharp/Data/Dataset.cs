using NormSharp.Autograd;

namespace NormSharp.Data;

/// <summary>
/// An in-memory labelled data set: an images tensor whose first dimension indexes samples, and one
/// class index per sample (PyTorch's <c>TensorDataset(images, labels)</c>).
/// </summary>
/// <remarks>
/// Images read from IDX files have shape [N, 1, rows, columns] (one channel), so that convolutional
/// models take them as they are and fully connected models flatten them (<c>Flatten()</c>).
/// Pixels are scaled to [0, 1] and then standardized: x = (pixel / 255 - mean) / std, torchvision's
/// <c>ToTensor()</c> followed by <c>Normalize(mean, std)</c> (Fashion-MNIST's 60,000 training images: mean 0.2860,
/// std 0.3530); mean 0 and std 1 keep the plain [0, 1] scale.
/// </remarks>
public sealed class Dataset
{
    /// <summary>The class names of Fashion-MNIST, by label.</summary>
    public static IReadOnlyList<string> FashionMnistClasses { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    private readonly int[] labels;

    /// <summary>Wraps <paramref name="images"/> [N, ...] and <paramref name="labels"/> [N] (not copied).</summary>
    /// <exception cref="ArgumentException">The sample counts differ, a label is negative, or images is a scalar.</exception>
    public Dataset(Tensor images, int[] labels)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        if (images.Rank == 0)
        {
            throw new ArgumentException("Images need a sample dimension, got a scalar (shape []).", nameof(images));
        }
        if (images.Size(0) != labels.Length)
        {
            throw new ArgumentException(
                $"Images and labels must have the same number of samples: images {ShapeUtil.Format(images.Shape)} has {images.Size(0)}, labels have {labels.Length}.",
                nameof(labels));
        }
        int classCount = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] < 0)
            {
                throw new ArgumentException($"Labels must be >= 0, got {labels[i]} at index {i}.", nameof(labels));
            }
            classCount = Math.Max(classCount, labels[i] + 1);
        }
        Images = images.DetachFromDisposeScope();   // the data set holds its images beyond any scope it was made in
        this.labels = labels;
        ClassCount = classCount;
    }

    /// <summary>All images, shape [N, ...].</summary>
    public Tensor Images { get; }

    /// <summary>The class index of each sample (read-only view).</summary>
    public ReadOnlySpan<int> Labels => labels;

    /// <summary>The number of samples N.</summary>
    public int Count => labels.Length;

    /// <summary>One more than the largest label (10 for MNIST and Fashion-MNIST with every class present).</summary>
    public int ClassCount { get; }

    /// <summary>The shape of one sample (the images shape without its first dimension).</summary>
    public int[] SampleShape => Images.Shape[1..];

    /// <summary>The samples at <paramref name="indices"/>, copied, in that order.</summary>
    public Dataset Subset(ReadOnlySpan<int> indices)
    {
        var picked = new int[indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            if (indices[i] < 0 || indices[i] >= Count)
            {
                throw new ArgumentOutOfRangeException(nameof(indices), indices[i], $"Sample index out of range for a data set of {Count} samples.");
            }
            picked[i] = labels[indices[i]];
        }
        using var _ = new NoGrad();
        return new Dataset(Images.IndexSelect(indices), picked);
    }

    /// <summary>The first <paramref name="count"/> samples (all of them when count >= N), sharing storage.</summary>
    public Dataset Take(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count >= Count)
        {
            return this;
        }
        using var _ = new NoGrad();
        return new Dataset(Images.Detach().Slice(0, count), labels[..count]);
    }

    /// <summary>
    /// Reads an IDX images file and an IDX labels file (raw or .gz) into a data set of shape
    /// [N, 1, rows, columns], standardized as (pixel / 255 - <paramref name="mean"/>) / <paramref name="std"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">A file is malformed, or the two files hold different numbers of samples.</exception>
    public static Dataset FromIdx(string imagesPath, string labelsPath, float mean = 0f, float std = 1f)
    {
        var images = IdxReader.ReadImages(imagesPath);
        var labels = IdxReader.ReadLabels(labelsPath);
        return FromIdx(images, labels, imagesPath, labelsPath, mean, std);
    }

    /// <summary>As <see cref="FromIdx(string, string, float, float)"/>, from streams; the names appear in errors.</summary>
    public static Dataset FromIdx(Stream images, Stream labels, string imagesName = "images", string labelsName = "labels", float mean = 0f, float std = 1f) =>
        FromIdx(IdxReader.ReadImages(images, imagesName), IdxReader.ReadLabels(labels, labelsName), imagesName, labelsName, mean, std);

    /// <summary>
    /// A data set of shape [N, 1, rows, columns] from images and labels already read, standardized as
    /// (pixel / 255 - <paramref name="mean"/>) / <paramref name="std"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">The image and label counts differ.</exception>
    public static Dataset FromImages(IdxImages images, int[] labels, float mean = 0f, float std = 1f)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        return FromIdx(images, labels, "images", "labels", mean, std);
    }

    private static Dataset FromIdx(IdxImages images, int[] labels, string imagesName, string labelsName, float mean, float std)
    {
        if (!(std > 0) || !float.IsFinite(std) || !float.IsFinite(mean))
        {
            throw new ArgumentOutOfRangeException(nameof(std), $"Normalization needs a finite mean and a std > 0, got mean {mean}, std {std}.");
        }
        if (images.Count != labels.Length)
        {
            throw new InvalidDataException(
                $"Images and labels disagree on the sample count: {imagesName} holds {images.Count} images, {labelsName} holds {labels.Length} labels.");
        }
        var pixels = images.ToFloats();
        float invStd = 1f / std;
        for (int i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (pixels[i] - mean) * invStd;
        }
        return new Dataset(new Tensor(pixels, [images.Count, 1, images.Rows, images.Columns]), labels);
    }
}
