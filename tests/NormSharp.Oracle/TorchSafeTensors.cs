using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;
using static TorchSharp.torch;
using TorchTensor = TorchSharp.torch.Tensor;

namespace NormSharp.Oracle;

/// <summary>
/// A minimal safetensors writer and reader over libtorch tensors, written from the format's specification
/// (https://github.com/huggingface/safetensors, "Format") and sharing no code with NormSharp.Serialization:
/// the independent side of the interop tests. TorchSharp 0.107.0 has no safetensors support of its own
/// (that lives in the separate TorchSharp.PyBridge package, which is not available here).
/// <code>
/// [8 bytes]  N, unsigned little-endian
/// [N bytes]  JSON: {"__metadata__":{...},"name":{"dtype":"F32","shape":[..],"data_offsets":[begin,end]},...}
/// [rest]     raw little-endian row-major bytes of each tensor, offsets relative to the end of the header
/// </code>
/// </summary>
/// <remarks>
/// The writer lays the file out as the reference implementation (<c>safetensors.torch.save_file</c>) does:
/// tensors sorted by element size (largest first), then by name, packed without gaps; the header lists them
/// in that order after <c>__metadata__</c> and is padded with spaces to a multiple of 8 bytes. Only the dtypes
/// the interop fixtures use are supported: F64, F32, I64.
/// </remarks>
internal static class TorchSafeTensors
{
    /// <summary>Writes <paramref name="tensors"/> (CPU tensors of dtype float64, float32 or int64) and <paramref name="metadata"/>.</summary>
    public static void Write(string path, IReadOnlyDictionary<string, TorchTensor> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        // The data below is each tensor's in-memory bytes: on a big-endian machine they would not be the
        // little-endian bytes the format requires.
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("TorchSafeTensors writes raw tensor bytes and needs a little-endian machine.");
        }
        var ordered = tensors
            .Select(pair => (Name: pair.Key, DType: DTypeName(pair.Value.dtype), Tensor: pair.Value))
            .OrderByDescending(item => ElementSize(item.DType))
            .ThenBy(item => item.Name, StringComparer.Ordinal)
            .ToList();

        var header = new StringBuilder("{");
        header.Append(Quote("__metadata__")).Append(":{");
        header.AppendJoin(',', metadata.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => Quote(p.Key) + ":" + Quote(p.Value)));
        header.Append('}');
        var data = new List<byte[]>();
        long offset = 0;
        foreach (var (name, dtype, tensor) in ordered)
        {
            byte[] bytes = tensor.detach().cpu().contiguous().bytes.ToArray();
            header.Append(',').Append(Quote(name)).Append(":{\"dtype\":").Append(Quote(dtype))
                .Append(",\"shape\":[").AppendJoin(',', tensor.shape.Select(d => d.ToString(CultureInfo.InvariantCulture)))
                .Append("],\"data_offsets\":[").Append(offset.ToString(CultureInfo.InvariantCulture))
                .Append(',').Append((offset + bytes.Length).ToString(CultureInfo.InvariantCulture)).Append("]}");
            data.Add(bytes);
            offset += bytes.Length;
        }
        header.Append('}');
        while (Encoding.UTF8.GetByteCount(header.ToString()) % 8 != 0)
        {
            header.Append(' ');
        }
        byte[] headerBytes = Encoding.UTF8.GetBytes(header.ToString());

        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write);
        var length = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)headerBytes.Length);
        stream.Write(length);
        stream.Write(headerBytes);
        foreach (var bytes in data)
        {
            stream.Write(bytes);
        }
    }

    /// <summary>Reads every tensor of a safetensors file with F64, F32 or I64 entries into CPU libtorch tensors.</summary>
    public static Dictionary<string, TorchTensor> Read(string path)
    {
        byte[] file = File.ReadAllBytes(path);
        long headerLength = checked((long)BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(0, 8)));
        int dataStart = checked(8 + (int)headerLength);
        using var header = JsonDocument.Parse(file.AsMemory(8, (int)headerLength));
        var tensors = new Dictionary<string, TorchTensor>(StringComparer.Ordinal);
        foreach (var entry in header.RootElement.EnumerateObject())
        {
            if (entry.Name == "__metadata__")
            {
                continue;
            }
            string dtype = entry.Value.GetProperty("dtype").GetString()!;
            long[] shape = entry.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            int[] offsets = entry.Value.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt32()).ToArray();
            var tensor = empty(shape, ScalarTypeOf(dtype));
            var source = file.AsSpan(dataStart + offsets[0], offsets[1] - offsets[0]);
            var destination = tensor.bytes;
            if (source.Length != destination.Length)
            {
                throw new InvalidDataException($"{path}: \"{entry.Name}\" has {source.Length} bytes, {dtype} [{string.Join(", ", shape)}] needs {destination.Length}.");
            }
            source.CopyTo(destination);
            tensors[entry.Name] = tensor;
        }
        return tensors;
    }

    private static string DTypeName(ScalarType type) => type switch
    {
        ScalarType.Float64 => "F64",
        ScalarType.Float32 => "F32",
        ScalarType.Int64 => "I64",
        _ => throw new ArgumentException($"TorchSafeTensors writes Float64, Float32 and Int64, not {type}."),
    };

    private static ScalarType ScalarTypeOf(string dtype) => dtype switch
    {
        "F64" => ScalarType.Float64,
        "F32" => ScalarType.Float32,
        "I64" => ScalarType.Int64,
        _ => throw new InvalidDataException($"TorchSafeTensors reads F64, F32 and I64, not \"{dtype}\"."),
    };

    private static int ElementSize(string dtype) => dtype == "F32" ? 4 : 8;

    /// <summary>A JSON string literal; the names and values used here are plain ASCII, anything else is refused.</summary>
    private static string Quote(string text)
    {
        if (text.Any(c => c < ' ' || c > '~' || c == '"' || c == '\\'))
        {
            throw new ArgumentException($"\"{text}\": TorchSafeTensors writes printable ASCII names without quotes or backslashes.");
        }
        return "\"" + text + "\"";
    }
}
