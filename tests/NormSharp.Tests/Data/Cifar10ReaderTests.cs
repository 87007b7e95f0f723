using NormSharp.Data;
using NormSharp.Tests.Serialization;

namespace NormSharp.Tests.Data;

/// <summary>CIFAR-10 binary records read back to the pixel, and every kind of corrupt file refused with the figures.</summary>
public class Cifar10ReaderTests
{
    // Record r: label r % 10, pixel i of the record = (r * 7 + i) % 256.
    private static byte[] Records(int count)
    {
        var bytes = new byte[count * Cifar10Reader.RecordLength];
        for (int r = 0; r < count; r++)
        {
            bytes[r * Cifar10Reader.RecordLength] = (byte)(r % 10);
            for (int i = 0; i < 3072; i++)
            {
                bytes[r * Cifar10Reader.RecordLength + 1 + i] = (byte)((r * 7 + i) % 256);
            }
        }
        return bytes;
    }

    [Fact]
    public void Reads_labels_and_channel_planes_scaled_and_normalized()
    {
        var raw = Cifar10Reader.Read(new MemoryStream(Records(3)), normalize: false);
        Assert.Equal(new[] { 3, 3, 32, 32 }, raw.Images.Shape);
        Assert.Equal(new[] { 0, 1, 2 }, raw.Labels.ToArray());
        // Record 2, green plane (channel 1), row 3, column 5: byte index 1024 + 3 * 32 + 5.
        int i = 1024 + 3 * 32 + 5;
        Assert.Equal((2 * 7 + i) % 256 / 255f, raw.Images[2].ToArray()[i]);
        var normalized = Cifar10Reader.Read(new MemoryStream(Records(3)));
        Assert.Equal(((2 * 7 + i) % 256 / 255f - Cifar10Reader.Mean[1]) / Cifar10Reader.Std[1], normalized.Images[2].ToArray()[i], 6);
    }

    [Fact]
    public void Reads_the_five_training_batches_of_a_directory_in_order()
    {
        using var folder = new TempFolder();
        for (int b = 1; b <= 5; b++)
        {
            File.WriteAllBytes(folder.File($"data_batch_{b}.bin"), Records(b));
        }
        var train = Cifar10Reader.ReadDirectory(folder.Path, normalize: false);
        Assert.Equal(15, train.Count);
        Assert.Equal(new[] { 0, 0, 1, 0, 1, 2 }, train.Labels[..6].ToArray());
        var missing = Assert.Throws<FileNotFoundException>(() => Cifar10Reader.ReadDirectory(folder.Path, train: false));
        Assert.Contains("test_batch.bin", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Truncated_or_mislabelled_data_is_refused_with_the_figures()
    {
        var truncated = Records(2)[..^100];
        var error = Assert.Throws<InvalidDataException>(() => Cifar10Reader.Read(new MemoryStream(truncated), "batch.bin"));
        Assert.Contains("batch.bin", error.Message, StringComparison.Ordinal);
        Assert.Contains("3073", error.Message, StringComparison.Ordinal);
        Assert.Contains($"{truncated.Length} bytes", error.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDataException>(() => Cifar10Reader.Read(new MemoryStream([])));
        var mislabelled = Records(2);
        mislabelled[Cifar10Reader.RecordLength] = 10;
        error = Assert.Throws<InvalidDataException>(() => Cifar10Reader.Read(new MemoryStream(mislabelled)));
        Assert.Contains("record 1 has label 10", error.Message, StringComparison.Ordinal);
    }
}
