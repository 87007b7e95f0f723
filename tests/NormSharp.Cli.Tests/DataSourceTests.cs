using System.Buffers.Binary;
using System.IO.Compression;

namespace NormSharp.Cli.Tests;

public class DataSourceTests
{
    [Fact]
    public void Embedded_subset_is_stratified_and_standardized()
    {
        var data = TestConsole.Embedded;
        Assert.Equal("embedded", data.Kind);
        Assert.Equal(6000, data.Train.Count);
        Assert.Equal(1000, data.Test.Count);
        Assert.Equal(new[] { 1, 28, 28 }, data.Train.SampleShape);
        Assert.All(Enumerable.Range(0, 10), c => Assert.Equal(600, data.Train.Labels.ToArray().Count(l => l == c)));
        Assert.All(Enumerable.Range(0, 10), c => Assert.Equal(100, data.Test.Labels.ToArray().Count(l => l == c)));
        // Fashion-MNIST's pixel statistics; a subset of 6,000 lands close to the full set's 0.2860 / 0.3530.
        Assert.InRange(data.Mean, 0.27, 0.30);
        Assert.InRange(data.Std, 0.34, 0.36);
        var pixels = data.Train.Images.ToArray();
        Assert.InRange(pixels.Average(), -0.01, 0.01);
    }

    [Fact]
    public void Data_directory_wins_and_is_named()
    {
        string dir = TestConsole.TempPath();
        Directory.CreateDirectory(dir);
        try
        {
            WriteIdx(Path.Combine(dir, "train-images-idx3-ubyte.gz"), 0x803, [20, 4, 4], i => (byte)(i % 251), gzip: true);
            WriteIdx(Path.Combine(dir, "train-labels-idx1-ubyte"), 0x801, [20], i => (byte)(i % 10), gzip: false);
            WriteIdx(Path.Combine(dir, "t10k-images.idx3-ubyte"), 0x803, [10, 4, 4], i => (byte)(i % 7), gzip: false);
            WriteIdx(Path.Combine(dir, "t10k-labels.idx1-ubyte.gz"), 0x801, [10], i => (byte)(i % 10), gzip: true);
            var data = DataSource.Load(dir, debianDirectory: "/nonexistent");
            Assert.Equal("--data", data.Kind);
            Assert.Equal((20, 10), (data.Train.Count, data.Test.Count));
            Assert.Equal(new[] { 1, 4, 4 }, data.Test.SampleShape);
            Assert.Contains(dir, data.Description, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Data_directory_without_files_is_an_error_not_a_silent_fallback()
    {
        var ex = Assert.Throws<FileNotFoundException>(() => DataSource.Load("/nonexistent/normsharp-data"));
        Assert.Contains("train-images-idx3-ubyte", ex.Message, StringComparison.Ordinal);
        Assert.Contains("/nonexistent/normsharp-data", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_data_directory_or_debian_package_the_embedded_subset_is_used()
    {
        var data = DataSource.Load(null, debianDirectory: "/nonexistent");
        Assert.Equal("embedded", data.Kind);
    }

    [Fact]
    public void Corrupt_file_in_data_directory_names_the_file()
    {
        string dir = TestConsole.TempPath();
        Directory.CreateDirectory(dir);
        try
        {
            WriteIdx(Path.Combine(dir, "train-images-idx3-ubyte"), 0x803, [20, 4, 4], i => 1, gzip: false);
            WriteIdx(Path.Combine(dir, "train-labels-idx1-ubyte"), 0x801, [19], i => 1, gzip: false);
            WriteIdx(Path.Combine(dir, "t10k-images-idx3-ubyte"), 0x803, [10, 4, 4], i => 1, gzip: false);
            WriteIdx(Path.Combine(dir, "t10k-labels-idx1-ubyte"), 0x801, [10], i => 1, gzip: false);
            var ex = Assert.Throws<InvalidDataException>(() => DataSource.Load(dir));
            Assert.Contains("20 images", ex.Message, StringComparison.Ordinal);
            Assert.Contains("19 labels", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static void WriteIdx(string path, int magic, int[] dims, Func<int, byte> value, bool gzip)
    {
        int count = dims.Aggregate(1, (a, b) => a * b);
        var bytes = new byte[4 + 4 * dims.Length + count];
        BinaryPrimitives.WriteInt32BigEndian(bytes, magic);
        for (int i = 0; i < dims.Length; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * i), dims[i]);
        }
        for (int i = 0; i < count; i++)
        {
            bytes[4 + 4 * dims.Length + i] = value(i);
        }
        using var file = File.Create(path);
        if (gzip)
        {
            using var gz = new GZipStream(file, CompressionLevel.Fastest);
            gz.Write(bytes);
        }
        else
        {
            file.Write(bytes);
        }
    }
}
