using NormSharp.Data;

namespace NormSharp.Tests.Data;

public class IdxReaderTests
{
    [Fact]
    public void Reads_raw_images_file()
    {
        using var dir = new IdxFiles.TempDir();
        var path = dir.Write("images-idx3-ubyte", IdxFiles.Images(5, 4, 3));
        var images = IdxReader.ReadImages(path);
        Assert.Equal((5, 4, 3), (images.Count, images.Rows, images.Columns));
        Assert.Equal(IdxFiles.Pixels(5, 4, 3), images.Pixels);
    }

    [Fact]
    public void Reads_gzip_file_detected_by_content_not_name()
    {
        using var dir = new IdxFiles.TempDir();
        var gz = dir.Write("images-no-extension", IdxFiles.Gzip(IdxFiles.Images(7, 28, 28)));
        var images = IdxReader.ReadImages(gz);
        Assert.Equal((7, 28, 28), (images.Count, images.Rows, images.Columns));
        Assert.Equal(IdxFiles.Pixels(7, 28, 28), images.Pixels);
    }

    [Fact]
    public void Reads_from_unseekable_streams_raw_and_gzip()
    {
        using var raw = new UnseekableStream(IdxFiles.Images(3, 2, 2));
        Assert.Equal(IdxFiles.Pixels(3, 2, 2), IdxReader.ReadImages(raw).Pixels);
        using var gz = new UnseekableStream(IdxFiles.Gzip(IdxFiles.Labels(23)));
        Assert.Equal(Enumerable.Range(0, 23).Select(i => i % 10).ToArray(), IdxReader.ReadLabels(gz));
    }

    [Fact]
    public void Reads_labels_as_bytes_and_ints()
    {
        using var dir = new IdxFiles.TempDir();
        var path = dir.Write("labels.gz", IdxFiles.Gzip(IdxFiles.Labels(12)));
        Assert.Equal(new byte[] { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1 }, IdxReader.ReadLabelBytes(path));
        Assert.Equal(new[] { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1 }, IdxReader.ReadLabels(path));
    }

    [Fact]
    public void ToFloats_scales_bytes_to_unit_interval()
    {
        var images = new IdxImages(1, 1, 3, [0, 51, 255]);
        Assert.Equal(new[] { 0f, 0.2f, 1f }, images.ToFloats());
    }

    [Fact]
    public void Labels_file_read_as_images_names_both_magics_and_suggests_a_swap()
    {
        var ex = Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(new MemoryStream(IdxFiles.Labels(10)), "train-labels"));
        Assert.Contains("train-labels", ex.Message, StringComparison.Ordinal);
        Assert.Contains("0x00000803", ex.Message, StringComparison.Ordinal);
        Assert.Contains("0x00000801", ex.Message, StringComparison.Ordinal);
        Assert.Contains("swapped", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Foreign_file_is_rejected_by_magic()
    {
        byte[] png = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0];
        var ex = Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(new MemoryStream(png)));
        Assert.Contains("expected 0x00000803, got 0x89504E47", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unsupported_element_type_is_named()
    {
        var floats = IdxFiles.Build(0x00000D03, [1, 1, 1], [0, 0, 0, 0]);
        var ex = Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(new MemoryStream(floats)));
        Assert.Contains("type byte 0x0D", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(6)]
    [InlineData(15)]
    public void Truncated_header_is_reported(int length)
    {
        var bytes = IdxFiles.Images(2, 2, 2)[..length];
        var ex = Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(new MemoryStream(bytes)));
        Assert.Contains("truncated", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Truncated_data_names_declared_and_actual_sizes_raw_file()
    {
        using var dir = new IdxFiles.TempDir();
        var full = IdxFiles.Images(10, 28, 28);
        var path = dir.Write("short", full[..(full.Length - 100)]);
        var ex = Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(path));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("truncated", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[10, 28, 28] = 7840 bytes", ex.Message, StringComparison.Ordinal);
        Assert.Contains("7740", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Truncated_data_is_reported_for_gzip_and_unseekable_streams()
    {
        var full = IdxFiles.Images(10, 28, 28);
        var cut = full[..(full.Length - 100)];
        var gz = Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(new MemoryStream(IdxFiles.Gzip(cut))));
        Assert.Contains("ends after 7740 bytes", gz.Message, StringComparison.Ordinal);
        var pipe = Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(new UnseekableStream(cut)));
        Assert.Contains("ends after 7740 bytes", pipe.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Truncated_gzip_container_is_an_invalid_data_exception()
    {
        var gz = IdxFiles.Gzip(IdxFiles.Images(50, 28, 28));
        var ex = Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(new MemoryStream(gz[..(gz.Length / 2)]), "half.gz"));
        Assert.StartsWith("half.gz: ", ex.Message, StringComparison.Ordinal);
        Assert.Contains("truncated", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Corrupt_gzip_data_is_an_invalid_data_exception()
    {
        var gz = IdxFiles.Gzip(IdxFiles.Images(50, 28, 28));
        for (int i = 12; i < gz.Length - 8; i++)
        {
            gz[i] ^= 0x5A;
        }
        var ex = Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(new MemoryStream(gz), "bad.gz"));
        Assert.Contains("bad.gz", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void More_data_than_declared_is_a_count_mismatch()
    {
        // Header says 5 labels, 6 follow: the count in the header is wrong.
        var bytes = IdxFiles.Build(0x00000801, [5], [0, 1, 2, 3, 4, 5]);
        var raw = Assert.Throws<InvalidDataException>(() => IdxReader.ReadLabels(new MemoryStream(bytes)));
        Assert.Contains("count mismatch", raw.Message, StringComparison.Ordinal);
        Assert.Contains("6 bytes follow", raw.Message, StringComparison.Ordinal);
        var gz = Assert.Throws<InvalidDataException>(() => IdxReader.ReadLabels(new MemoryStream(IdxFiles.Gzip(bytes))));
        Assert.Contains("count mismatch", gz.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, 28, 28)]
    [InlineData(10, 0, 28)]
    [InlineData(10, 28, -5)]
    [InlineData(-2147483648, 28, 28)]
    public void Non_positive_dimensions_are_rejected(int count, int rows, int columns)
    {
        var bytes = IdxFiles.Build(0x00000803, [count, rows, columns], []);
        var ex = Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(new MemoryStream(bytes)));
        Assert.Contains("must be > 0", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Huge_declared_dimensions_fail_before_allocating()
    {
        var bytes = IdxFiles.Build(0x00000803, [int.MaxValue, int.MaxValue, int.MaxValue], [1, 2, 3]);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(new MemoryStream(bytes)));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("more than the limit", ex.Message, StringComparison.Ordinal);
        Assert.Contains(int.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Message, StringComparison.Ordinal);
        Assert.True(allocated < 1 << 20, $"allocated {allocated} bytes");
    }

    [Fact]
    public void Large_declaration_with_little_data_reads_only_what_is_there()
    {
        // 1,000,000 images of 28 × 28 = 784 MB declared, under the 1 GiB limit, but 3 bytes present.
        var bytes = IdxFiles.Build(0x00000803, [1_000_000, 28, 28], [1, 2, 3]);
        foreach (var make in new Func<Stream>[]
        {
            () => new MemoryStream(bytes),
            () => new UnseekableStream(bytes),
            () => new MemoryStream(IdxFiles.Gzip(bytes)),
        })
        {
            using var stream = make();
            long before = GC.GetAllocatedBytesForCurrentThread();
            var ex = Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(stream));
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Contains("truncated", ex.Message, StringComparison.Ordinal);
            Assert.Contains("784000000 bytes", ex.Message, StringComparison.Ordinal);
            Assert.True(allocated < 8 << 20, $"allocated {allocated} bytes for a {bytes.Length}-byte input");
        }
    }

    [Fact]
    public void Caller_limit_on_elements_is_enforced()
    {
        var bytes = IdxFiles.Images(10, 28, 28);
        var ex = Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(new MemoryStream(bytes), "x", maxElements: 5000));
        Assert.Contains("limit of 5000", ex.Message, StringComparison.Ordinal);
        Assert.Equal(10, IdxReader.ReadImages(new MemoryStream(bytes), "x", maxElements: 7840).Count);
    }
}
