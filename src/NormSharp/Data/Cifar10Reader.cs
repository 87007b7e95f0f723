namespace NormSharp.Data;

/// <summary>
/// Reads CIFAR-10 in its binary version (Krizhevsky, 2009; <c>cifar-10-batches-bin</c>: <c>data_batch_1.bin</c> …
/// <c>data_batch_5.bin</c>, <c>test_batch.bin</c>) into a <see cref="Dataset"/> of images [N, 3, 32, 32].
/// </summary>
/// <remarks>
/// Each record is 3073 bytes: the label (0–9), then 1024 red, 1024 green and 1024 blue pixels, each plane row-major.
/// Pixels become floats as torchvision's <c>ToTensor()</c> (pixel / 255) followed, when asked, by
/// <c>Normalize(mean, std)</c> per channel with <see cref="Mean"/> and <see cref="Std"/>. Like the IDX reader, every
/// problem (a length that is not a whole number of records, a label outside 0–9, a missing file) is an
/// <see cref="InvalidDataException"/> or <see cref="FileNotFoundException"/> naming the expected and actual values.
/// </remarks>
public static class Cifar10Reader
{
    /// <summary>Bytes per record: one label byte and 3 × 32 × 32 pixel bytes.</summary>
    public const int RecordLength = 1 + PixelsPerImage;

    private const int PixelsPerImage = 3 * 32 * 32;

    /// <summary>Per-channel mean of the training images on the [0, 1] scale (the figures torchvision examples use).</summary>
    public static IReadOnlyList<float> Mean { get; } = [0.4914f, 0.4822f, 0.4465f];

    /// <summary>Per-channel standard deviation of the training images on the [0, 1] scale.</summary>
    public static IReadOnlyList<float> Std { get; } = [0.2470f, 0.2435f, 0.2616f];

    /// <summary>The class names, by label.</summary>
    public static IReadOnlyList<string> Classes { get; } =
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    /// <summary>
    /// Reads the five training batches (<paramref name="train"/>) or the test batch from a <c>cifar-10-batches-bin</c>
    /// directory: 50,000 or 10,000 images.
    /// </summary>
    /// <exception cref="FileNotFoundException">A batch file is missing (the message names it).</exception>
    /// <exception cref="InvalidDataException">A file is not valid CIFAR-10 binary data.</exception>
    public static Dataset ReadDirectory(string directory, bool train = true, bool normalize = true)
    {
        ArgumentNullException.ThrowIfNull(directory);
        string[] names = train ? [.. Enumerable.Range(1, 5).Select(i => $"data_batch_{i}.bin")] : ["test_batch.bin"];
        var records = new List<byte[]>();
        foreach (var name in names)
        {
            string path = Path.Combine(directory, name);
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"CIFAR-10 batch file {path} is missing; expected {string.Join(", ", names)} in {directory}.", path);
            }
            records.Add(File.ReadAllBytes(path));
        }
        return FromRecords(records, names, normalize);
    }

    /// <summary>Reads one batch file.</summary>
    /// <exception cref="InvalidDataException">The file is not valid CIFAR-10 binary data.</exception>
    public static Dataset ReadFile(string path, bool normalize = true)
    {
        ArgumentNullException.ThrowIfNull(path);
        return FromRecords([File.ReadAllBytes(path)], [path], normalize);
    }

    /// <summary>Reads records from a stream until its end.</summary>
    /// <exception cref="InvalidDataException">The data is not valid CIFAR-10 binary data.</exception>
    public static Dataset Read(Stream stream, string sourceName = "stream", bool normalize = true)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return FromRecords([buffer.ToArray()], [sourceName], normalize);
    }

    private static Dataset FromRecords(List<byte[]> files, string[] names, bool normalize)
    {
        long count = 0;
        for (int f = 0; f < files.Count; f++)
        {
            long length = files[f].LongLength;
            if (length == 0 || length % RecordLength != 0)
            {
                throw new InvalidDataException(
                    $"{names[f]}: expected a positive multiple of {RecordLength} bytes (1 label byte + {PixelsPerImage} pixel bytes per image), got {length} bytes ({length / RecordLength} whole records and {length % RecordLength} bytes left over).");
            }
            count += length / RecordLength;
        }
        if (count * PixelsPerImage > Array.MaxLength)
        {
            throw new InvalidDataException($"{string.Join(", ", names)}: {count} images do not fit in one tensor.");
        }
        var pixels = new float[count * PixelsPerImage];
        var labels = new int[count];
        int image = 0;
        for (int f = 0; f < files.Count; f++)
        {
            var bytes = files[f];
            for (int record = 0; record < bytes.Length / RecordLength; record++, image++)
            {
                int start = record * RecordLength;
                if (bytes[start] > 9)
                {
                    throw new InvalidDataException($"{names[f]}: record {record} has label {bytes[start]}; expected 0 to 9.");
                }
                labels[image] = bytes[start];
                for (int i = 0; i < PixelsPerImage; i++)
                {
                    float value = bytes[start + 1 + i] / 255f;
                    int channel = i / 1024;
                    pixels[(long)image * PixelsPerImage + i] = normalize ? (value - Mean[channel]) / Std[channel] : value;
                }
            }
        }
        return new Dataset(Tensor.FromArray(pixels, labels.Length, 3, 32, 32), labels);
    }
}
