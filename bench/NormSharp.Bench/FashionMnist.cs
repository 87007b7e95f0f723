using System.IO.Compression;

namespace NormSharp.Bench;

/// <summary>
/// Fashion-MNIST training images and labels for the epoch benchmarks, read from Debian's dataset-fashion-mnist
/// (IDX, gzip) and normalized with the training set's mean 0.2860 and standard deviation 0.3530.
/// </summary>
internal sealed class FashionMnist
{
    public const string DefaultFolder = "/usr/share/datasets/fashion-mnist";

    private FashionMnist(float[] images, int[] labels)
    {
        Images = images;
        Labels = labels;
    }

    /// <summary>[count, 28 · 28] normalized pixels.</summary>
    public float[] Images { get; }

    public int[] Labels { get; }

    public int Count => Labels.Length;

    /// <summary>Whether the training files are in <paramref name="folder"/>; otherwise why not.</summary>
    public static bool Exists(string folder, out string? reason)
    {
        bool found = File.Exists(Path.Combine(folder, "train-images-idx3-ubyte.gz")) && File.Exists(Path.Combine(folder, "train-labels-idx1-ubyte.gz"));
        reason = found ? null : $"Fashion-MNIST not found in {folder} (Debian: apt-get install dataset-fashion-mnist)";
        return found;
    }

    /// <summary>The training set, or null (with the reason) when the files are missing.</summary>
    public static FashionMnist? TryLoadTraining(string folder, out string? reason)
    {
        string images = Path.Combine(folder, "train-images-idx3-ubyte.gz"), labels = Path.Combine(folder, "train-labels-idx1-ubyte.gz");
        if (!File.Exists(images) || !File.Exists(labels))
        {
            reason = $"Fashion-MNIST not found in {folder} (Debian: apt-get install dataset-fashion-mnist)";
            return null;
        }
        reason = null;
        byte[] pixels = ReadIdx(images, 0x803, out int count);
        byte[] classes = ReadIdx(labels, 0x801, out int labelCount);
        if (count != labelCount || pixels.Length != count * 784)
        {
            throw new InvalidDataException($"{images}: expected {labelCount} images of 28 x 28 for {labelCount} labels, got {count} images of {pixels.Length / Math.Max(1, count)} bytes.");
        }
        var data = new float[pixels.Length];
        for (int i = 0; i < pixels.Length; i++)
        {
            data[i] = (pixels[i] / 255f - 0.2860f) / 0.3530f;
        }
        return new FashionMnist(data, Array.ConvertAll(classes, b => (int)b));
    }

    // IDX: big-endian magic, dimension sizes, then the bytes.
    private static byte[] ReadIdx(string path, int magic, out int count)
    {
        using var stream = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var reader = new BinaryReader(stream);
        int ReadBigEndian() => System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(reader.ReadInt32());
        int actual = ReadBigEndian();
        if (actual != magic)
        {
            throw new InvalidDataException($"{path}: IDX magic 0x{magic:X} expected, got 0x{actual:X}.");
        }
        count = ReadBigEndian();
        long size = count;
        for (int d = 1; d < (magic & 0xFF); d++)
        {
            size *= ReadBigEndian();
        }
        var bytes = reader.ReadBytes(checked((int)size));
        if (bytes.Length != size)
        {
            throw new InvalidDataException($"{path}: truncated, expected {size} bytes of data, got {bytes.Length}.");
        }
        return bytes;
    }
}
