using System.Buffers.Binary;
using System.IO.Compression;

namespace NormSharp.Data;

/// <summary>
/// Images read from an IDX file: <see cref="Count"/> images of <see cref="Rows"/> × <see cref="Columns"/>
/// unsigned bytes, row-major, one image after another (the MNIST / Fashion-MNIST layout).
/// </summary>
/// <param name="Count">The number of images.</param>
/// <param name="Rows">Image height in pixels.</param>
/// <param name="Columns">Image width in pixels.</param>
/// <param name="Pixels">Count · Rows · Columns bytes, 0 = background, 255 = full intensity.</param>
public sealed record IdxImages(int Count, int Rows, int Columns, byte[] Pixels)
{
    /// <summary>The pixels as floats scaled to [0, 1]: pixel / 255 (torchvision's <c>ToTensor</c>).</summary>
    public float[] ToFloats()
    {
        var result = new float[Pixels.Length];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = Pixels[i] / 255f;
        }
        return result;
    }

    /// <summary>Mean and standard deviation (population) of all pixels on the [0, 1] scale, accumulated in double.</summary>
    public (double Mean, double Std) PixelStatistics()
    {
        if (Pixels.Length == 0)
        {
            return (0, 0);
        }
        // Bytes take 256 values: a histogram gives exact sums with no cancellation.
        Span<long> histogram = stackalloc long[256];
        foreach (byte p in Pixels)
        {
            histogram[p]++;
        }
        double sum = 0;
        for (int v = 0; v < 256; v++)
        {
            sum += histogram[v] * (v / 255.0);
        }
        double mean = sum / Pixels.Length, squares = 0;
        for (int v = 0; v < 256; v++)
        {
            double d = v / 255.0 - mean;
            squares += histogram[v] * d * d;
        }
        return (mean, Math.Sqrt(squares / Pixels.Length));
    }
}

/// <summary>
/// Reads IDX files, the format of MNIST and Fashion-MNIST, raw or gzip-compressed (detected from the
/// content, not the file name).
/// </summary>
/// <remarks>
/// <para>Layout (all integers big-endian): two zero bytes, a type byte (0x08 = unsigned byte, the only
/// type read here), a rank byte, then one int32 per dimension, then the data. Images files have magic
/// 0x00000803 (rank 3: count, rows, columns); labels files 0x00000801 (rank 1: count).</para>
/// <para>Everything is validated before memory is committed: the magic number, every dimension &gt; 0,
/// the element count against <c>maxElements</c>, and, for a raw seekable stream, the bytes that
/// follow the header against the declared count. Compressed or unseekable data is read in growing
/// chunks, so a file that declares far more data than it holds fails after reading what it has,
/// never after allocating what it claims. Data after the declared elements is an error too: it
/// means the header's count is wrong. Every failure is an <see cref="InvalidDataException"/> naming
/// the source, the expected and the actual value.</para>
/// </remarks>
public static class IdxReader
{
    /// <summary>Magic number of an IDX images file: unsigned bytes, rank 3.</summary>
    public const int ImagesMagic = 0x00000803;

    /// <summary>Magic number of an IDX labels file: unsigned bytes, rank 1.</summary>
    public const int LabelsMagic = 0x00000801;

    /// <summary>Default bound on the number of elements a file may declare (1 GiB of bytes).</summary>
    public const long DefaultMaxElements = 1L << 30;

    private const int UnsignedByteType = 0x08;
    private const int ChunkSize = 1 << 20;

    /// <summary>Reads an images file (magic 0x00000803).</summary>
    /// <param name="path">A raw or gzip-compressed IDX file.</param>
    /// <param name="maxElements">Largest count · rows · columns accepted; larger declarations are rejected before allocating.</param>
    /// <exception cref="InvalidDataException">The file is not a valid IDX images file.</exception>
    public static IdxImages ReadImages(string path, long maxElements = DefaultMaxElements)
    {
        using var stream = File.OpenRead(path);
        return ReadImages(stream, path, maxElements);
    }

    /// <summary>Reads an images file (magic 0x00000803) from a stream; <paramref name="sourceName"/> names it in errors.</summary>
    /// <exception cref="InvalidDataException">The data is not a valid IDX images file.</exception>
    public static IdxImages ReadImages(Stream stream, string sourceName = "stream", long maxElements = DefaultMaxElements)
    {
        var (dims, data) = Read(stream, sourceName, ImagesMagic, "images", maxElements);
        return new IdxImages(dims[0], dims[1], dims[2], data);
    }

    /// <summary>Reads a labels file (magic 0x00000801) as bytes.</summary>
    /// <exception cref="InvalidDataException">The file is not a valid IDX labels file.</exception>
    public static byte[] ReadLabelBytes(string path, long maxElements = DefaultMaxElements)
    {
        using var stream = File.OpenRead(path);
        return ReadLabelBytes(stream, path, maxElements);
    }

    /// <summary>Reads a labels file (magic 0x00000801) as bytes from a stream; <paramref name="sourceName"/> names it in errors.</summary>
    /// <exception cref="InvalidDataException">The data is not a valid IDX labels file.</exception>
    public static byte[] ReadLabelBytes(Stream stream, string sourceName = "stream", long maxElements = DefaultMaxElements) =>
        Read(stream, sourceName, LabelsMagic, "labels", maxElements).Data;

    /// <summary>Reads a labels file (magic 0x00000801) as class indices.</summary>
    /// <exception cref="InvalidDataException">The file is not a valid IDX labels file.</exception>
    public static int[] ReadLabels(string path, long maxElements = DefaultMaxElements) =>
        Array.ConvertAll(ReadLabelBytes(path, maxElements), b => (int)b);

    /// <summary>Reads a labels file (magic 0x00000801) as class indices from a stream.</summary>
    /// <exception cref="InvalidDataException">The data is not a valid IDX labels file.</exception>
    public static int[] ReadLabels(Stream stream, string sourceName = "stream", long maxElements = DefaultMaxElements) =>
        Array.ConvertAll(ReadLabelBytes(stream, sourceName, maxElements), b => (int)b);

    private static (int[] Dims, byte[] Data) Read(Stream stream, string sourceName, int expectedMagic, string kind, long maxElements)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(sourceName);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxElements);

        // Detect gzip by its two magic bytes (1f 8b); IDX files always start with two zero bytes.
        var prefix = new byte[2];
        int prefixLength = ReadFully(stream, prefix, sourceName);
        bool gzip = prefixLength == 2 && prefix[0] == 0x1f && prefix[1] == 0x8b;
        var restored = new PrefixedStream(prefix.AsMemory(0, prefixLength), stream);
        if (!gzip)
        {
            return ReadIdx(restored, sourceName, expectedMagic, kind, maxElements, knownRemaining: RemainingOrNull(stream));
        }
        using var decompressed = new GZipStream(restored, CompressionMode.Decompress, leaveOpen: true);
        try
        {
            return ReadIdx(decompressed, sourceName, expectedMagic, kind, maxElements, knownRemaining: null);
        }
        catch (InvalidDataException ex) when (ex.Data["NormSharp.Idx"] is null)
        {
            throw new InvalidDataException($"{sourceName}: corrupt gzip data ({ex.Message}).", ex);
        }
    }

    /// <summary>Bytes a seekable raw stream holds after its position, plus the 2 already read; null when unknown.</summary>
    private static long? RemainingOrNull(Stream stream) =>
        stream.CanSeek ? stream.Length - stream.Position + 2 : null;

    private static (int[] Dims, byte[] Data) ReadIdx(
        Stream stream, string sourceName, int expectedMagic, string kind, long maxElements, long? knownRemaining)
    {
        int expectedRank = expectedMagic & 0xff;
        var header = new byte[4];
        int got = ReadFully(stream, header, sourceName);
        if (got < 4)
        {
            throw Invalid($"{sourceName}: truncated: the file ends after {got} bytes, inside the 4-byte IDX magic number (expected 0x{expectedMagic:X8} for {kind}).");
        }
        int magic = BinaryPrimitives.ReadInt32BigEndian(header);
        if (magic != expectedMagic)
        {
            string hint = magic == (expectedMagic == ImagesMagic ? LabelsMagic : ImagesMagic)
                ? $" (that is the magic of an IDX {(expectedMagic == ImagesMagic ? "labels" : "images")} file: were images and labels swapped?)"
                : header[2] != UnsignedByteType && header[0] == 0 && header[1] == 0
                    ? $" (type byte 0x{header[2]:X2}; only 0x08, unsigned byte, is supported)"
                    : "";
            throw Invalid($"{sourceName}: wrong IDX magic number for {kind}: expected 0x{expectedMagic:X8}, got 0x{magic:X8}{hint}.");
        }

        var dimBytes = new byte[4 * expectedRank];
        got = ReadFully(stream, dimBytes, sourceName);
        if (got < dimBytes.Length)
        {
            throw Invalid($"{sourceName}: truncated: the header declares {expectedRank} dimensions ({dimBytes.Length} bytes) but only {got} bytes follow the magic number.");
        }
        // Capping the limit at an array's capacity keeps the running product below 2^62: no overflow.
        long limit = Math.Min(maxElements, Array.MaxLength);
        var dims = new int[expectedRank];
        long count = 1;
        for (int i = 0; i < expectedRank; i++)
        {
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(dimBytes.AsSpan(4 * i));
            if (dims[i] <= 0)
            {
                throw Invalid($"{sourceName}: IDX dimension {i} must be > 0, got {dims[i]} (dimensions [{string.Join(", ", dims[..(i + 1)])}]).");
            }
            count *= dims[i];
            if (count > limit)
            {
                throw Invalid($"{sourceName}: IDX {kind} header declares dimensions [{string.Join(", ", dims[..(i + 1)])}{(i + 1 < expectedRank ? ", ..." : "")}], " +
                    $"at least {count} elements, more than the limit of {limit}.");
            }
        }

        long headerLength = 4 + dimBytes.Length;
        if (knownRemaining is long remaining && remaining - headerLength != count)
        {
            long dataBytes = remaining - headerLength;
            throw Invalid(dataBytes < count
                ? $"{sourceName}: truncated: header declares dimensions {ShapeUtil.Format(dims)} = {count} bytes of data, but only {Math.Max(0, dataBytes)} bytes follow the header."
                : $"{sourceName}: count mismatch: header declares dimensions {ShapeUtil.Format(dims)} = {count} bytes of data, but {dataBytes} bytes follow the header.");
        }

        var data = ReadData(stream, (int)count, sourceName, dims, knownSize: knownRemaining is not null);
        return (dims, data);
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes and checks that nothing follows.</summary>
    private static byte[] ReadData(Stream stream, int count, string sourceName, int[] dims, bool knownSize)
    {
        // With a known size the length was checked, so allocate at once; otherwise grow as data arrives.
        var buffer = new byte[knownSize ? count : Math.Min(count, ChunkSize)];
        int filled = 0;
        while (filled < count)
        {
            if (filled == buffer.Length)
            {
                Array.Resize(ref buffer, (int)Math.Min(count, 2L * buffer.Length));
            }
            int n = ReadSome(stream, buffer.AsSpan(filled), sourceName);
            if (n == 0)
            {
                throw Invalid($"{sourceName}: truncated: header declares dimensions {ShapeUtil.Format(dims)} = {count} bytes of data, but the data ends after {filled} bytes.");
            }
            filled += n;
        }
        Span<byte> probe = stackalloc byte[1];
        if (!knownSize && ReadSome(stream, probe, sourceName) != 0)
        {
            throw Invalid($"{sourceName}: count mismatch: header declares dimensions {ShapeUtil.Format(dims)} = {count} bytes of data, but more data follows.");
        }
        return buffer;
    }

    private static int ReadFully(Stream stream, Span<byte> destination, string sourceName)
    {
        int total = 0;
        while (total < destination.Length)
        {
            int n = ReadSome(stream, destination[total..], sourceName);
            if (n == 0)
            {
                break;
            }
            total += n;
        }
        return total;
    }

    private static int ReadSome(Stream stream, Span<byte> destination, string sourceName)
    {
        try
        {
            return stream.Read(destination);
        }
        catch (EndOfStreamException ex)
        {
            throw Invalid($"{sourceName}: truncated: {ex.Message}");
        }
    }

    /// <summary>An InvalidDataException marked as ours, so the gzip wrapper does not relabel it as corrupt gzip.</summary>
    private static InvalidDataException Invalid(string message)
    {
        var ex = new InvalidDataException(message);
        ex.Data["NormSharp.Idx"] = true;
        return ex;
    }

    /// <summary>A read-only stream that yields <c>prefix</c> and then the rest of <c>inner</c> (to un-read the gzip probe).</summary>
    private sealed class PrefixedStream(ReadOnlyMemory<byte> prefix, Stream inner) : Stream
    {
        private ReadOnlyMemory<byte> prefix = prefix;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (prefix.Length > 0)
            {
                int n = Math.Min(prefix.Length, buffer.Length);
                prefix.Span[..n].CopyTo(buffer);
                prefix = prefix[n..];
                return n;
            }
            return inner.Read(buffer);
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
