using System.Buffers.Binary;
using System.Runtime.InteropServices;
using NormSharp.Nn;

namespace NormSharp.Serialization;

/// <summary>Element types of the safetensors format that NormSharp reads (names as in the file's header).</summary>
public enum SafeTensorsDType
{
    /// <summary>"F64": IEEE 754 binary64.</summary>
    F64,

    /// <summary>"F32": IEEE 754 binary32 (what NormSharp writes for parameters and buffers).</summary>
    F32,

    /// <summary>"F16": IEEE 754 binary16.</summary>
    F16,

    /// <summary>"BF16": bfloat16, the upper 16 bits of a binary32.</summary>
    BF16,

    /// <summary>"I64": signed 64-bit integer (what NormSharp writes for counters such as num_batches_tracked).</summary>
    I64,

    /// <summary>"I32": signed 32-bit integer.</summary>
    I32,

    /// <summary>"I16": signed 16-bit integer.</summary>
    I16,

    /// <summary>"I8": signed 8-bit integer.</summary>
    I8,

    /// <summary>"U8": unsigned 8-bit integer.</summary>
    U8,

    /// <summary>"BOOL": one byte, 0 = false, anything else = true.</summary>
    Bool,
}

/// <summary>
/// One tensor of a safetensors file: name, element type, shape and the raw little-endian bytes
/// (row-major, contiguous), with conversions to float32 and int64.
/// </summary>
public sealed class SafeTensorsEntry
{
    private readonly int[] shape;
    private readonly byte[] data;

    /// <summary>Creates an entry over <paramref name="data"/> (not copied).</summary>
    /// <exception cref="ArgumentException">The data's length is not the shape's element count times the element size, or a dimension is negative.</exception>
    public SafeTensorsEntry(string name, SafeTensorsDType dtype, int[] shape, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        long count = 1;
        foreach (int d in shape)
        {
            if (d < 0)
            {
                throw new ArgumentException($"Shape {ShapeUtil.Format(shape)} of \"{name}\" has a negative dimension.", nameof(shape));
            }
            count = checked(count * d);
        }
        long expected = checked(count * ElementSize(dtype));
        if (expected != data.Length)
        {
            throw new ArgumentException(
                $"\"{name}\" of dtype {DTypeName(dtype)} and shape {ShapeUtil.Format(shape)} needs {expected} bytes, got {data.Length}.", nameof(data));
        }
        Name = name;
        DType = dtype;
        this.shape = (int[])shape.Clone();
        this.data = data;
        ElementCount = count;
    }

    /// <summary>The tensor's name (the key in the header).</summary>
    public string Name { get; }

    /// <summary>The element type.</summary>
    public SafeTensorsDType DType { get; }

    /// <summary>A copy of the shape ([] for a scalar).</summary>
    public int[] Shape => (int[])shape.Clone();

    /// <summary>The number of elements (1 for shape []).</summary>
    public long ElementCount { get; }

    /// <summary>The raw bytes, little-endian, row-major.</summary>
    public ReadOnlyMemory<byte> Data => data;

    internal ReadOnlySpan<int> ShapeSpan => shape;

    /// <summary>An F32 entry holding a copy of <paramref name="values"/>.</summary>
    public static SafeTensorsEntry FromSingles(string name, ReadOnlySpan<float> values, params int[] shape)
    {
        var bytes = new byte[checked(values.Length * sizeof(float))];
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(values).CopyTo(bytes);
        }
        else
        {
            for (int i = 0; i < values.Length; i++)
            {
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), values[i]);
            }
        }
        return new SafeTensorsEntry(name, SafeTensorsDType.F32, shape, bytes);
    }

    /// <summary>An I64 entry holding a copy of <paramref name="values"/>.</summary>
    public static SafeTensorsEntry FromInt64s(string name, ReadOnlySpan<long> values, params int[] shape)
    {
        var bytes = new byte[checked(values.Length * sizeof(long))];
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(i * sizeof(long)), values[i]);
        }
        return new SafeTensorsEntry(name, SafeTensorsDType.I64, shape, bytes);
    }

    /// <summary>
    /// An entry for a tensor: I64 for an <see cref="Int64Scalar"/> (its exact value, its shape), F32
    /// otherwise (the tensor's elements bit for bit, NaN payloads included).
    /// </summary>
    public static SafeTensorsEntry FromTensor(string name, Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        return tensor is Int64Scalar scalar
            ? FromInt64s(name, [scalar.Value], tensor.Shape)
            : FromSingles(name, tensor.AsSpan(), tensor.Shape);
    }

    /// <summary>
    /// The elements as float32: F32 exactly; F64 rounded to nearest; F16 and BF16 exactly (every value
    /// is representable); integers rounded to nearest (exact up to 2^24); BOOL as 0 or 1.
    /// </summary>
    public float[] ToSingles()
    {
        var result = new float[ElementCount];
        ReadOnlySpan<byte> bytes = data;
        switch (DType)
        {
            case SafeTensorsDType.F32 when BitConverter.IsLittleEndian:
                MemoryMarshal.Cast<byte, float>(bytes).CopyTo(result);
                break;
            case SafeTensorsDType.F32:
                for (int i = 0; i < result.Length; i++)
                {
                    result[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes[(i * 4)..]);
                }
                break;
            case SafeTensorsDType.F64:
                for (int i = 0; i < result.Length; i++)
                {
                    result[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(bytes[(i * 8)..]);
                }
                break;
            case SafeTensorsDType.F16:
                for (int i = 0; i < result.Length; i++)
                {
                    result[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(bytes[(i * 2)..]);
                }
                break;
            case SafeTensorsDType.BF16:
                for (int i = 0; i < result.Length; i++)
                {
                    result[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(bytes[(i * 2)..]) << 16);
                }
                break;
            default:
                var integers = ToInt64s();
                for (int i = 0; i < result.Length; i++)
                {
                    result[i] = integers[i];
                }
                break;
        }
        return result;
    }

    /// <summary>The elements of an integer or BOOL entry as int64, exactly.</summary>
    /// <exception cref="InvalidOperationException">The entry has a floating-point dtype.</exception>
    public long[] ToInt64s()
    {
        var result = new long[ElementCount];
        ReadOnlySpan<byte> bytes = data;
        switch (DType)
        {
            case SafeTensorsDType.I64:
                for (int i = 0; i < result.Length; i++)
                {
                    result[i] = BinaryPrimitives.ReadInt64LittleEndian(bytes[(i * 8)..]);
                }
                break;
            case SafeTensorsDType.I32:
                for (int i = 0; i < result.Length; i++)
                {
                    result[i] = BinaryPrimitives.ReadInt32LittleEndian(bytes[(i * 4)..]);
                }
                break;
            case SafeTensorsDType.I16:
                for (int i = 0; i < result.Length; i++)
                {
                    result[i] = BinaryPrimitives.ReadInt16LittleEndian(bytes[(i * 2)..]);
                }
                break;
            case SafeTensorsDType.I8:
                for (int i = 0; i < result.Length; i++)
                {
                    result[i] = (sbyte)bytes[i];
                }
                break;
            case SafeTensorsDType.U8:
                for (int i = 0; i < result.Length; i++)
                {
                    result[i] = bytes[i];
                }
                break;
            case SafeTensorsDType.Bool:
                for (int i = 0; i < result.Length; i++)
                {
                    result[i] = bytes[i] != 0 ? 1 : 0;
                }
                break;
            default:
                throw new InvalidOperationException(
                    $"\"{Name}\" has floating-point dtype {DTypeName(DType)}; ToInt64s() reads integer dtypes only.");
        }
        return result;
    }

    /// <summary>
    /// The entry as a tensor: an integer or BOOL entry of shape [] or [1] becomes an exact
    /// <see cref="Int64Scalar"/> (how counters such as num_batches_tracked load); everything else a
    /// float32 tensor of the entry's shape, converted as <see cref="ToSingles"/> does.
    /// </summary>
    public Tensor ToTensor()
    {
        bool integer = DType is not (SafeTensorsDType.F64 or SafeTensorsDType.F32 or SafeTensorsDType.F16 or SafeTensorsDType.BF16);
        if (integer && ElementCount == 1 && shape.Length <= 1)
        {
            return new Int64Scalar(ToInt64s()[0], vector: shape.Length == 1);
        }
        return new Tensor(ToSingles(), Shape);
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name}: {DTypeName(DType)} {ShapeUtil.Format(shape)}";

    /// <summary>Bytes per element of <paramref name="dtype"/>.</summary>
    public static int ElementSize(SafeTensorsDType dtype) => dtype switch
    {
        SafeTensorsDType.F64 or SafeTensorsDType.I64 => 8,
        SafeTensorsDType.F32 or SafeTensorsDType.I32 => 4,
        SafeTensorsDType.F16 or SafeTensorsDType.BF16 or SafeTensorsDType.I16 => 2,
        SafeTensorsDType.I8 or SafeTensorsDType.U8 or SafeTensorsDType.Bool => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Unknown safetensors dtype."),
    };

    /// <summary>The dtype's name in a safetensors header ("F32", "BF16", "BOOL" ...).</summary>
    public static string DTypeName(SafeTensorsDType dtype) => dtype switch
    {
        SafeTensorsDType.Bool => "BOOL",
        _ => dtype.ToString(),
    };

    /// <summary>Parses a header dtype name; false for names NormSharp does not read.</summary>
    public static bool TryParseDType(string? name, out SafeTensorsDType dtype)
    {
        switch (name)
        {
            case "F64": dtype = SafeTensorsDType.F64; return true;
            case "F32": dtype = SafeTensorsDType.F32; return true;
            case "F16": dtype = SafeTensorsDType.F16; return true;
            case "BF16": dtype = SafeTensorsDType.BF16; return true;
            case "I64": dtype = SafeTensorsDType.I64; return true;
            case "I32": dtype = SafeTensorsDType.I32; return true;
            case "I16": dtype = SafeTensorsDType.I16; return true;
            case "I8": dtype = SafeTensorsDType.I8; return true;
            case "U8": dtype = SafeTensorsDType.U8; return true;
            case "BOOL": dtype = SafeTensorsDType.Bool; return true;
            default: dtype = default; return false;
        }
    }
}
