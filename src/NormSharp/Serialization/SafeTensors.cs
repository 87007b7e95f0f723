using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace NormSharp.Serialization;

/// <summary>
/// Reader and writer of the safetensors format (Hugging Face; what PyTorch, JAX and Candle exchange):
/// <code>
/// [8 bytes]  N, the header length, unsigned little-endian
/// [N bytes]  UTF-8 JSON object, optionally padded with spaces:
///            { "__metadata__": { "key": "value", ... },            (optional, strings only)
///              "name": { "dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end] }, ... }
/// [rest]     the data: each tensor's bytes, little-endian, row-major, at [begin, end) from the data start
/// </code>
/// </summary>
/// <remarks>
/// Reading accepts any writer's file: keys in any order, padding, unknown fields in a tensor's entry,
/// gaps between tensors. It rejects (with <see cref="InvalidDataException"/> naming the reason) a file
/// shorter than 8 bytes, a header length past the file's end or above <see cref="MaxHeaderLength"/>,
/// a header that is not a JSON object, a duplicate name, a missing or malformed field, an unknown
/// dtype, offsets past the data or overlapping another tensor's, and a byte count that is not
/// shape × element size. Every size is checked against the file before anything is allocated, so a
/// corrupt file costs at most its own size in memory.
/// Writing keeps the caller's order in the header, lays the data out by element size (largest first)
/// so every tensor is aligned to its element size, pads the header with spaces to a multiple of 8,
/// and writes files atomically.
/// </remarks>
public static class SafeTensors
{
    /// <summary>The largest header accepted (100 MB), so a corrupt length cannot make the reader allocate gigabytes.</summary>
    public const long MaxHeaderLength = 100_000_000;

    /// <summary>The header key of the optional string → string metadata map.</summary>
    public const string MetadataKey = "__metadata__";

    private static readonly JsonDocumentOptions JsonOptions = new() { MaxDepth = 16 };

    /// <summary>Reads a file. See <see cref="Read(Stream)"/>.</summary>
    /// <exception cref="InvalidDataException">The file is not a valid safetensors file; the message says why.</exception>
    public static SafeTensorsFile ReadFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        try
        {
            return Read(stream);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"{path}: {ex.Message}", ex);
        }
    }

    /// <summary>Reads a safetensors file from the stream's current position to its end.</summary>
    /// <param name="stream">A readable, seekable stream (its length bounds every size in the header).</param>
    /// <exception cref="InvalidDataException">The data is not a valid safetensors file; the message says why.</exception>
    /// <exception cref="ArgumentException">The stream cannot read or seek.</exception>
    public static SafeTensorsFile Read(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanRead || !stream.CanSeek)
        {
            throw new ArgumentException("Reading safetensors needs a readable, seekable stream.", nameof(stream));
        }
        long start = stream.Position;
        long available = stream.Length - start;
        if (available < 8)
        {
            throw new InvalidDataException($"File is {available} bytes, shorter than the 8-byte header length.");
        }
        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > MaxHeaderLength)
        {
            throw new InvalidDataException($"Header length {headerLength} exceeds the limit of {MaxHeaderLength} bytes.");
        }
        if ((long)headerLength > available - 8)
        {
            throw new InvalidDataException(
                $"Header length {headerLength} runs past the end of the file ({available - 8} bytes follow the length field).");
        }
        var header = new byte[headerLength];
        stream.ReadExactly(header);
        long dataStart = start + 8 + (long)headerLength;
        long dataLength = available - 8 - (long)headerLength;

        var (infos, metadata) = ParseHeader(header, dataLength);
        CheckOverlaps(infos);

        var entries = new SafeTensorsEntry[infos.Count];
        // Read in file order so that a large file is read front to back.
        foreach (int i in Enumerable.Range(0, infos.Count).OrderBy(k => infos[k].Begin))
        {
            var info = infos[i];
            var bytes = new byte[info.End - info.Begin];
            stream.Seek(dataStart + info.Begin, SeekOrigin.Begin);
            try
            {
                stream.ReadExactly(bytes);
            }
            catch (EndOfStreamException ex)
            {
                throw new InvalidDataException($"Data of \"{info.Name}\" ends early: the file changed while it was read.", ex);
            }
            entries[i] = new SafeTensorsEntry(info.Name, info.DType, info.Shape, bytes);
        }
        return new SafeTensorsFile(entries, metadata);
    }

    /// <summary>Writes <paramref name="path"/> atomically: a temporary file beside it, flushed to disk, then renamed over it.</summary>
    /// <remarks>If anything fails (or the process dies) before the rename, the previous file at
    /// <paramref name="path"/> is left as it was and the temporary file is removed when possible.</remarks>
    public static void WriteFile(string path, IEnumerable<SafeTensorsEntry> entries, IReadOnlyDictionary<string, string>? metadata = null) =>
        WriteFile(path, entries, metadata, beforeRename: null);

    /// <summary>Writes to <paramref name="path"/> atomically; <paramref name="beforeRename"/> runs with the
    /// temporary file's path after it is complete and flushed, before the rename (a test hook: throwing there
    /// simulates a crash between write and rename).</summary>
    internal static void WriteFile(
        string path, IEnumerable<SafeTensorsEntry> entries, IReadOnlyDictionary<string, string>? metadata, Action<string>? beforeRename)
    {
        ArgumentNullException.ThrowIfNull(path);
        var list = entries.ToList();
        // Validate before creating anything on disk.
        CheckEntries(list, metadata);
        WriteAtomically(path, stream => Write(stream, list, metadata), beforeRename);
    }

    /// <summary>Writes a safetensors file to <paramref name="stream"/>.</summary>
    /// <param name="stream">Destination, written from its current position.</param>
    /// <param name="entries">The tensors; names must be unique and not <see cref="MetadataKey"/>.</param>
    /// <param name="metadata">Optional string → string map stored as <c>__metadata__</c>.</param>
    /// <exception cref="ArgumentException">A duplicate or reserved name.</exception>
    public static void Write(Stream stream, IEnumerable<SafeTensorsEntry> entries, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(entries);
        var list = entries.ToList();
        CheckEntries(list, metadata);
        // Data laid out largest element size first: with an 8-aligned data start every tensor is then
        // aligned to its element size (the reference implementation's layout). The header lists the
        // tensors in the caller's order, so a state dict reads back in its own order.
        var ordered = list.OrderByDescending(e => SafeTensorsEntry.ElementSize(e.DType)).ToList();
        var offsets = new Dictionary<string, (long Begin, long End)>(StringComparer.Ordinal);
        long offset = 0;
        foreach (var entry in ordered)
        {
            offsets[entry.Name] = (offset, offset + entry.Data.Length);
            offset += entry.Data.Length;
        }

        var headerBuffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(headerBuffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    json.WriteString(key, value);
                }
                json.WriteEndObject();
            }
            foreach (var entry in list)
            {
                json.WriteStartObject(entry.Name);
                json.WriteString("dtype", SafeTensorsEntry.DTypeName(entry.DType));
                json.WriteStartArray("shape");
                foreach (int d in entry.ShapeSpan)
                {
                    json.WriteNumberValue(d);
                }
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offsets[entry.Name].Begin);
                json.WriteNumberValue(offsets[entry.Name].End);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        int padding = (8 - (headerBuffer.WrittenCount % 8)) % 8;
        Span<byte> lengthBytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(lengthBytes, (ulong)(headerBuffer.WrittenCount + padding));
        stream.Write(lengthBytes);
        stream.Write(headerBuffer.WrittenSpan);
        for (int i = 0; i < padding; i++)
        {
            stream.WriteByte((byte)' ');
        }
        foreach (var entry in ordered)
        {
            stream.Write(entry.Data.Span);
        }
    }

    /// <summary>
    /// Runs <paramref name="write"/> on a new temporary file in <paramref name="path"/>'s folder, flushes it
    /// to disk, and renames it over <paramref name="path"/> (atomic on POSIX file systems and NTFS).
    /// </summary>
    internal static void WriteAtomically(string path, Action<Stream> write, Action<string>? beforeRename)
    {
        string fullPath = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(fullPath) ?? throw new ArgumentException($"\"{path}\" has no folder.", nameof(path));
        string temporary = Path.Combine(folder, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            beforeRename?.Invoke(temporary);
            File.Move(temporary, fullPath, overwrite: true);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // The original error matters more; a stray temporary file is harmless.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static void CheckEntries(List<SafeTensorsEntry> entries, IReadOnlyDictionary<string, string>? metadata)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            ArgumentNullException.ThrowIfNull(entry, nameof(entries));
            if (entry.Name == MetadataKey)
            {
                throw new ArgumentException($"\"{MetadataKey}\" is reserved for metadata and cannot name a tensor.", nameof(entries));
            }
            if (!names.Add(entry.Name))
            {
                throw new ArgumentException($"Two tensors are named \"{entry.Name}\".", nameof(entries));
            }
        }
        if (metadata is not null)
        {
            foreach (var (key, value) in metadata)
            {
                if (value is null)
                {
                    throw new ArgumentException($"Metadata \"{key}\" is null; metadata values are strings.", nameof(metadata));
                }
            }
        }
    }

    private sealed record TensorInfo(string Name, SafeTensorsDType DType, int[] Shape, long Begin, long End);

    private static (List<TensorInfo> Infos, Dictionary<string, string> Metadata) ParseHeader(byte[] header, long dataLength)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(header, JsonOptions);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"Header is not valid JSON: {ex.Message}", ex);
        }
        using (document)
        {
            try
            {
                return Interpret(document.RootElement, dataLength);
            }
            catch (InvalidOperationException ex)
            {
                // JsonElement accessors throw this for strings that are not valid UTF-8.
                throw new InvalidDataException($"Header is malformed: {ex.Message}", ex);
            }
        }
    }

    private static (List<TensorInfo> Infos, Dictionary<string, string> Metadata) Interpret(JsonElement root, long dataLength)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"Header must be a JSON object, got {root.ValueKind}.");
        }
        var infos = new List<TensorInfo>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var names = new HashSet<string>(StringComparer.Ordinal);
        bool sawMetadata = false;
        foreach (var property in root.EnumerateObject())
        {
            string name = property.Name;
            if (name == MetadataKey)
            {
                if (sawMetadata)
                {
                    throw new InvalidDataException($"Header has two \"{MetadataKey}\" entries.");
                }
                sawMetadata = true;
                ReadMetadata(property.Value, metadata);
                continue;
            }
            if (!names.Add(name))
            {
                throw new InvalidDataException($"Header names tensor \"{name}\" twice.");
            }
            infos.Add(ReadTensorInfo(name, property.Value, dataLength));
        }
        return (infos, metadata);
    }

    private static void ReadMetadata(JsonElement element, Dictionary<string, string> metadata)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"\"{MetadataKey}\" must be an object of strings, got {element.ValueKind}.");
        }
        foreach (var item in element.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
            {
                throw new InvalidDataException($"Metadata \"{item.Name}\" must be a string, got {item.Value.ValueKind}.");
            }
            if (!metadata.TryAdd(item.Name, item.Value.GetString()!))
            {
                throw new InvalidDataException($"Metadata key \"{item.Name}\" appears twice.");
            }
        }
    }

    private static TensorInfo ReadTensorInfo(string name, JsonElement element, long dataLength)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"Entry of tensor \"{name}\" must be an object, got {element.ValueKind}.");
        }
        if (!element.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
        {
            throw new InvalidDataException($"Tensor \"{name}\" has no \"dtype\" string.");
        }
        string? dtypeName = dtypeElement.GetString();
        if (!SafeTensorsEntry.TryParseDType(dtypeName, out var dtype))
        {
            throw new InvalidDataException(
                $"Tensor \"{name}\" has unknown or unsupported dtype \"{dtypeName}\" (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL).");
        }
        var shape = ReadShape(name, element);
        var (begin, end) = ReadOffsets(name, element, dataLength);

        // Element count and byte count with overflow checks: a hostile shape must not wrap around to
        // match the offsets.
        long count = 1;
        foreach (int d in shape)
        {
            if (d != 0 && count > long.MaxValue / 8 / d)
            {
                throw new InvalidDataException($"Tensor \"{name}\" has shape {ShapeUtil.Format(shape)}, too many elements.");
            }
            count *= d;
        }
        long bytes = count * SafeTensorsEntry.ElementSize(dtype);
        if (bytes != end - begin)
        {
            throw new InvalidDataException(
                $"Tensor \"{name}\" of dtype {dtypeName} and shape {ShapeUtil.Format(shape)} needs {bytes} bytes but its data_offsets [{begin}, {end}] span {end - begin}.");
        }
        if (bytes > Array.MaxLength)
        {
            throw new InvalidDataException($"Tensor \"{name}\" has {bytes} bytes, more than one array can hold ({Array.MaxLength}).");
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static int[] ReadShape(string name, JsonElement element)
    {
        if (!element.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidDataException($"Tensor \"{name}\" has no \"shape\" array.");
        }
        int rank = shapeElement.GetArrayLength();
        if (rank > 64)
        {
            throw new InvalidDataException($"Tensor \"{name}\" has rank {rank}; at most 64 dimensions are read.");
        }
        var shape = new int[rank];
        int i = 0;
        foreach (var d in shapeElement.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out int size) || size < 0)
            {
                throw new InvalidDataException(
                    $"Tensor \"{name}\" has shape dimension {i} = {d.GetRawText()}; expected an integer in [0, {int.MaxValue}].");
            }
            shape[i++] = size;
        }
        return shape;
    }

    private static (long Begin, long End) ReadOffsets(string name, JsonElement element, long dataLength)
    {
        if (!element.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array
            || offsets.GetArrayLength() != 2)
        {
            throw new InvalidDataException($"Tensor \"{name}\" has no \"data_offsets\" array of two integers.");
        }
        var pair = new long[2];
        int i = 0;
        foreach (var value in offsets.EnumerateArray())
        {
            if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out pair[i]) || pair[i] < 0)
            {
                throw new InvalidDataException(
                    $"Tensor \"{name}\" has data_offsets[{i}] = {value.GetRawText()}; expected a non-negative integer.");
            }
            i++;
        }
        long begin = pair[0], end = pair[1];
        if (begin > end || end > dataLength)
        {
            throw new InvalidDataException(
                $"Tensor \"{name}\" has data_offsets [{begin}, {end}] outside the data section of {dataLength.ToString(CultureInfo.InvariantCulture)} bytes.");
        }
        return (begin, end);
    }

    private static void CheckOverlaps(List<TensorInfo> infos)
    {
        // Empty tensors occupy no bytes and cannot overlap anything.
        var sorted = infos.Where(t => t.End > t.Begin).OrderBy(t => t.Begin).ToList();
        for (int i = 1; i < sorted.Count; i++)
        {
            if (sorted[i].Begin < sorted[i - 1].End)
            {
                throw new InvalidDataException(
                    $"Tensors \"{sorted[i - 1].Name}\" [{sorted[i - 1].Begin}, {sorted[i - 1].End}] and \"{sorted[i].Name}\" [{sorted[i].Begin}, {sorted[i].End}] overlap.");
            }
        }
    }
}

/// <summary>The contents of a safetensors file: its tensors in header order and its metadata.</summary>
public sealed class SafeTensorsFile
{
    private readonly Dictionary<string, SafeTensorsEntry> byName;

    internal SafeTensorsFile(IReadOnlyList<SafeTensorsEntry> entries, Dictionary<string, string> metadata)
    {
        Entries = entries;
        Metadata = metadata;
        byName = entries.ToDictionary(e => e.Name, StringComparer.Ordinal);
    }

    /// <summary>The tensors, in the order the header lists them.</summary>
    public IReadOnlyList<SafeTensorsEntry> Entries { get; }

    /// <summary>The <c>__metadata__</c> map (empty when the file has none).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The tensor named <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No tensor has that name.</exception>
    public SafeTensorsEntry this[string name] =>
        byName.TryGetValue(name, out var entry) ? entry : throw new KeyNotFoundException($"The file has no tensor named \"{name}\".");

    /// <summary>Looks up a tensor by name.</summary>
    public bool TryGetEntry(string name, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out SafeTensorsEntry entry) =>
        byName.TryGetValue(name, out entry);
}
