using System.Text;
using NormSharp.Nn;
using NormSharp.Serialization;

namespace NormSharp.Tests.Serialization;

public class SafeTensorsTests
{
    // ---- An independent byte-level writer, built from the format description and nothing in the
    // library: the 8-byte little-endian length by shifts, the header as literal JSON text, the data
    // encoded by hand. Files built with it test the reader against a writer that is not its twin.

    private static byte[] Assemble(string header, byte[] data, int padding = 0)
    {
        var headerBytes = Encoding.UTF8.GetBytes(header + new string(' ', padding));
        var file = new byte[8 + headerBytes.Length + data.Length];
        ulong length = (ulong)headerBytes.Length;
        for (int i = 0; i < 8; i++)
        {
            file[i] = (byte)(length >> (8 * i));
        }
        headerBytes.CopyTo(file, 8);
        data.CopyTo(file, 8 + headerBytes.Length);
        return file;
    }

    private static byte[] LittleEndian(ulong bits, int bytes)
    {
        var result = new byte[bytes];
        for (int i = 0; i < bytes; i++)
        {
            result[i] = (byte)(bits >> (8 * i));
        }
        return result;
    }

    private static byte[] F64(params double[] values) => [.. values.SelectMany(v => LittleEndian((ulong)BitConverter.DoubleToInt64Bits(v), 8))];

    private static byte[] F32(params float[] values) => [.. values.SelectMany(v => LittleEndian((uint)BitConverter.SingleToInt32Bits(v), 4))];

    private static byte[] Bits16(params ushort[] values) => [.. values.SelectMany(v => LittleEndian(v, 2))];

    private static byte[] I64(params long[] values) => [.. values.SelectMany(v => LittleEndian((ulong)v, 8))];

    private static byte[] I32(params int[] values) => [.. values.SelectMany(v => LittleEndian((uint)v, 4))];

    private static SafeTensorsFile ReadBytes(byte[] file) => SafeTensors.Read(new MemoryStream(file, writable: false));

    /// <summary>
    /// A PyTorch-style state dict of Sequential(Linear(2, 3), ToyNorm(3)) in seven dtypes, header keys
    /// shuffled, metadata in the middle, newlines, and padding spaces after the JSON.
    /// </summary>
    private static byte[] ForeignStateDict(string counterEntry = "\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]", byte[]? counterData = null)
    {
        const string header = """
            {
              "1.running_var": {"shape": [3], "data_offsets": [80, 92], "dtype": "I32"},
              "0.bias":{"dtype":"F16","shape":[3],"data_offsets":[92,98]},
              "__metadata__": {"format": "pt", "note": "written by hand"},
              "1.num_batches_tracked": {COUNTER},
              "0.weight": { "dtype" : "F64" , "shape" : [ 3 , 2 ] , "data_offsets" : [ 8 , 56 ] },
              "1.weight": {"dtype": "BF16", "shape": [3], "data_offsets": [98, 104]},
              "1.bias": {"dtype": "F32", "shape": [3], "data_offsets": [56, 68]},
              "1.running_mean": {"dtype": "F32", "shape": [3], "data_offsets": [68, 80]}
            }
            """;
        byte[] data =
        [
            .. counterData ?? I64((1L << 53) + 1),
            .. F64(0.1, -0.2, 0.3, 1e-3, 12345.678, -7),
            .. F32(1.5f, -2.25f, 3f),
            .. F32(0.25f, 0.5f, 0.75f),
            .. I32(1, 2, 16777217),
            .. Bits16(0x3C00, 0xC000, 0x3555),
            .. Bits16(0x3F80, 0x4049, 0xBF00),
        ];
        return Assemble(header.Replace("{COUNTER}", "{" + counterEntry + "}", StringComparison.Ordinal), data, padding: 13);
    }

    [Fact]
    public void Reads_an_independently_written_file_with_every_dtype_converted()
    {
        var file = ReadBytes(ForeignStateDict());
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal(7, file.Entries.Count);
        Assert.Equal("1.running_var", file.Entries[0].Name); // header order is kept
        Assert.Equal(new[] { 3, 2 }, file["0.weight"].Shape);
        Assert.Equal(SafeTensorsDType.F64, file["0.weight"].DType);
        Assert.Equal(new float[] { 0.1f, -0.2f, 0.3f, 1e-3f, 12345.678f, -7f }, file["0.weight"].ToSingles());
        Assert.Equal(new float[] { 1f, -2f, 0.333251953125f }, file["0.bias"].ToSingles());
        Assert.Equal(new float[] { 1f, 3.140625f, -0.5f }, file["1.weight"].ToSingles());
        Assert.Equal(new float[] { 1.5f, -2.25f, 3f }, file["1.bias"].ToSingles());
        Assert.Equal(new float[] { 1f, 2f, 16777216f }, file["1.running_var"].ToSingles());
        Assert.Equal(new long[] { 1, 2, 16777217 }, file["1.running_var"].ToInt64s());
        var counter = Assert.IsType<Int64Scalar>(file["1.num_batches_tracked"].ToTensor());
        Assert.Equal((1L << 53) + 1, counter.Value);
        Assert.Throws<InvalidOperationException>(() => file["0.weight"].ToInt64s());
    }

    [Fact]
    public void Foreign_state_dict_loads_into_the_architecture_and_computes_its_output()
    {
        using var folder = new TempFolder();
        string path = folder.File("foreign.safetensors");
        File.WriteAllBytes(path, ForeignStateDict());
        var model = new Sequential(new Linear(2, 3), new ToyNorm(3));
        var result = Checkpoint.Load(path, model);
        Assert.True(result.Module.IsClean);
        Assert.False(result.OptimizerLoaded);
        Assert.Equal("pt", result.Metadata["format"]);
        Assert.Equal((1L << 53) + 1, ((ToyNorm)model[1]).NumBatchesTracked);

        // y = ((x Wᵀ + b) - runningMean) · γ + β, in double from the values written above.
        double[,] w = { { 0.1, -0.2 }, { 0.3, 1e-3 }, { 12345.678, -7 } };
        double[] b = { 1, -2, 0.333251953125 }, gamma = { 1, 3.140625, -0.5 }, beta = { 1.5, -2.25, 3 }, mean = { 0.25, 0.5, 0.75 };
        float[] x = { 0.5f, -1.25f, 2f, 0.75f };
        model.Eval();
        var y = model.Forward(Tensor.FromArray(x, 2, 2)).ToArray();
        for (int n = 0; n < 2; n++)
        {
            for (int c = 0; c < 3; c++)
            {
                double linear = (float)w[c, 0] * (double)x[n * 2] + (float)w[c, 1] * (double)x[n * 2 + 1] + b[c];
                double expected = (linear - mean[c]) * gamma[c] + beta[c];
                Assert.True(Math.Abs(expected - y[n * 3 + c]) <= 1e-6 * Math.Max(1, Math.Abs(expected)), $"y[{n},{c}] = {y[n * 3 + c]}, expected {expected}");
            }
        }
    }

    [Fact]
    public void Foreign_state_dict_loads_into_batch_norm_and_computes_its_eval_output()
    {
        using var folder = new TempFolder();
        string path = folder.File("foreign.safetensors");
        File.WriteAllBytes(path, ForeignStateDict());
        var model = new Sequential(new Linear(2, 3), new BatchNorm1d(3));
        Assert.True(Checkpoint.Load(path, model).Module.IsClean);
        Assert.Equal((1L << 53) + 1, ((BatchNorm1d)model[1]).NumBatchesTracked);

        // y = ((x Wᵀ + b) - runningMean) / √(runningVar + eps) · γ + β, in double.
        double[,] w = { { 0.1, -0.2 }, { 0.3, 1e-3 }, { 12345.678, -7 } };
        double[] b = { 1, -2, 0.333251953125 }, gamma = { 1, 3.140625, -0.5 }, beta = { 1.5, -2.25, 3 };
        double[] mean = { 0.25, 0.5, 0.75 }, variance = { 1, 2, 16777216 };
        float[] x = { 0.5f, -1.25f, 2f, 0.75f };
        model.Eval();
        var y = model.Forward(Tensor.FromArray(x, 2, 2)).ToArray();
        for (int n = 0; n < 2; n++)
        {
            for (int c = 0; c < 3; c++)
            {
                double linear = (float)w[c, 0] * (double)x[n * 2] + (float)w[c, 1] * (double)x[n * 2 + 1] + b[c];
                double expected = (linear - mean[c]) / Math.Sqrt(variance[c] + 1e-5) * gamma[c] + beta[c];
                Assert.True(Math.Abs(expected - y[n * 3 + c]) <= 1e-5 * Math.Max(1, Math.Abs(expected)), $"y[{n},{c}] = {y[n * 3 + c]}, expected {expected}");
            }
        }
    }

    [Theory]
    [InlineData("\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]", 0)]
    [InlineData("\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[0,4]", 1)]
    [InlineData("\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]", 2)]
    public void Num_batches_tracked_loads_from_other_shapes_and_dtypes(string entry, int encoding)
    {
        byte[] data = encoding switch
        {
            0 => I64(1234567),
            1 => [.. I32(1234567), 0, 0, 0, 0],
            _ => [.. F32(1234567f), 0, 0, 0, 0],
        };
        using var folder = new TempFolder();
        string path = folder.File("counter.safetensors");
        File.WriteAllBytes(path, ForeignStateDict(entry, data));
        var model = new Sequential(new Linear(2, 3), new ToyNorm(3));
        Checkpoint.Load(path, model);
        Assert.Equal(1234567, ((ToyNorm)model[1]).NumBatchesTracked);
    }

    [Fact]
    public void Round_trip_keeps_every_dtype_shape_byte_and_metadata()
    {
        var random = new Random(42);
        var entries = new List<SafeTensorsEntry>();
        int index = 0;
        foreach (var dtype in Enum.GetValues<SafeTensorsDType>())
        {
            foreach (int[] shape in new[] { Array.Empty<int>(), new[] { 0, 3 }, new[] { 3 }, new[] { 2, 3, 5 } })
            {
                var bytes = new byte[shape.Aggregate(1, (a, d) => a * d) * SafeTensorsEntry.ElementSize(dtype)];
                random.NextBytes(bytes);
                entries.Add(new SafeTensorsEntry($"t{index++}.{dtype}", dtype, shape, bytes));
            }
        }
        entries.Add(SafeTensorsEntry.FromSingles("名前 \"quoted\" \\ back/slash", [1f, 2f], 2));
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["ünïcode \"key\""] = "line\nbreak" };

        var stream = new MemoryStream();
        stream.Write("junk!"u8); // the reader starts at the stream's position
        SafeTensors.Write(stream, entries, metadata);
        stream.Position = 5;
        var file = SafeTensors.Read(stream);

        Assert.Equal(metadata, file.Metadata.ToDictionary());
        Assert.Equal(entries.Count, file.Entries.Count);
        foreach (var expected in entries)
        {
            var actual = file[expected.Name];
            Assert.Equal(expected.DType, actual.DType);
            Assert.Equal(expected.Shape, actual.Shape);
            Assert.Equal(expected.Data.ToArray(), actual.Data.ToArray());
        }
    }

    [Fact]
    public void Writer_pads_header_to_eight_and_aligns_every_tensor()
    {
        var entries = new[]
        {
            new SafeTensorsEntry("byte", SafeTensorsDType.U8, [3], [1, 2, 3]),
            SafeTensorsEntry.FromSingles("float", [1f, 2f, 3f], 3),
            SafeTensorsEntry.FromInt64s("long", [7], []),
            new SafeTensorsEntry("half", SafeTensorsDType.F16, [1], [0, 0x3C]),
        };
        var stream = new MemoryStream();
        SafeTensors.Write(stream, entries, new Dictionary<string, string> { ["a"] = "b" });
        var bytes = stream.ToArray();
        long headerLength = (long)BitConverter.ToUInt64(bytes, 0);
        Assert.Equal(0, (8 + headerLength) % 8);
        var header = Encoding.UTF8.GetString(bytes, 8, (int)headerLength);
        Assert.StartsWith("{\"__metadata__\":{\"a\":\"b\"}", header, StringComparison.Ordinal);
        Assert.Equal(8 + headerLength + 3 + 12 + 8 + 2, bytes.Length);

        var file = ReadBytes(bytes);
        using var document = System.Text.Json.JsonDocument.Parse(header);
        foreach (var entry in file.Entries)
        {
            long begin = document.RootElement.GetProperty(entry.Name).GetProperty("data_offsets")[0].GetInt64();
            Assert.Equal(0, begin % SafeTensorsEntry.ElementSize(entry.DType));
        }
    }

    [Fact]
    public void Writer_rejects_duplicate_and_reserved_names()
    {
        var a = SafeTensorsEntry.FromSingles("a", [1f], 1);
        Assert.Throws<ArgumentException>(() => SafeTensors.Write(new MemoryStream(), [a, a]));
        var reserved = SafeTensorsEntry.FromSingles(SafeTensors.MetadataKey, [1f], 1);
        Assert.Throws<ArgumentException>(() => SafeTensors.Write(new MemoryStream(), [reserved]));
        var ex = Assert.Throws<ArgumentException>(() => new SafeTensorsEntry("b", SafeTensorsDType.F32, [2, 2], new byte[12]));
        Assert.Contains("needs 16 bytes, got 12", ex.Message, StringComparison.Ordinal);
    }

    private const string GoodEntry = "\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";

    public static TheoryData<string, byte[], string> MalformedFiles()
    {
        byte[] eight = new byte[8];
        var good = Assemble("{" + GoodEntry + "}", new byte[8]);
        var data = new TheoryData<string, byte[], string>
        {
            { "empty file", [], "shorter than the 8-byte header length" },
            { "7 bytes", new byte[7], "shorter than the 8-byte header length" },
            { "truncated in the header", good[..20], "runs past the end of the file" },
            { "truncated in the data", good[..^1], "outside the data section" },
            { "length beyond the file", [.. LittleEndian(1000, 8), .. "{}"u8], "runs past the end of the file" },
            { "length above the cap", [.. LittleEndian(ulong.MaxValue, 8), .. "{}"u8], "exceeds the limit" },
            { "length just above the cap", [.. LittleEndian(SafeTensors.MaxHeaderLength + 1, 8), .. "{}"u8], "exceeds the limit" },
            { "zero header length", LittleEndian(0, 8), "not valid JSON" },
            { "bad JSON", Assemble("{\"x\":{\"dtype\":", eight), "not valid JSON" },
            { "trailing comma", Assemble("{" + GoodEntry + ",}", eight), "not valid JSON" },
            { "root is an array", Assemble("[]", eight), "must be a JSON object" },
            { "entry is a number", Assemble("{\"x\":5}", eight), "must be an object" },
            { "offset past the data", Assemble("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", eight), "outside the data section" },
            { "begin after end", Assemble("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", eight), "outside the data section" },
            { "negative offset", Assemble("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", eight), "non-negative integer" },
            { "fractional offset", Assemble("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8.0]}}", eight), "non-negative integer" },
            { "huge offset", Assemble("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,99999999999999999999999]}}", eight), "non-negative integer" },
            { "three offsets", Assemble("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4,8]}}", eight), "array of two integers" },
            {
                "overlapping tensors",
                Assemble("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", eight),
                "overlap"
            },
            { "unknown dtype", Assemble("{\"x\":{\"dtype\":\"F8_E4M3\",\"shape\":[8],\"data_offsets\":[0,8]}}", eight), "unknown or unsupported dtype \"F8_E4M3\"" },
            { "dtype not a string", Assemble("{\"x\":{\"dtype\":32,\"shape\":[2],\"data_offsets\":[0,8]}}", eight), "no \"dtype\" string" },
            { "size mismatch", Assemble("{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", eight), "needs 12 bytes" },
            { "overflowing shape", Assemble("{\"x\":{\"dtype\":\"F64\",\"shape\":[2147483647,2147483647,2147483647],\"data_offsets\":[0,8]}}", eight), "too many elements" },
            { "negative dimension", Assemble("{\"x\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", eight), "expected an integer in [0," },
            { "missing shape", Assemble("{\"x\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", eight), "no \"shape\" array" },
            { "missing offsets", Assemble("{\"x\":{\"dtype\":\"F32\",\"shape\":[2]}}", eight), "no \"data_offsets\"" },
            { "duplicate name", Assemble("{" + GoodEntry + "," + GoodEntry + "}", eight), "twice" },
            { "metadata value not a string", Assemble("{\"__metadata__\":{\"a\":1}," + GoodEntry + "}", eight), "must be a string" },
            { "metadata not an object", Assemble("{\"__metadata__\":\"a\"," + GoodEntry + "}", eight), "must be an object of strings" },
            { "invalid UTF-8 in header", [.. LittleEndian(8, 8), (byte)'{', (byte)'"', 0xFF, (byte)'"', (byte)':', (byte)'1', (byte)'}', (byte)' '], "" },
        };
        return data;
    }

    [Theory]
    [MemberData(nameof(MalformedFiles))]
    public void Malformed_file_throws_InvalidDataException_with_the_reason(string name, byte[] file, string reason)
    {
        var ex = Assert.Throws<InvalidDataException>(() => ReadBytes(file));
        Assert.True(ex.Message.Contains(reason, StringComparison.Ordinal), $"{name}: \"{ex.Message}\" does not say \"{reason}\"");
    }

    [Fact]
    public void Read_file_names_the_path_in_the_error()
    {
        using var folder = new TempFolder();
        string path = folder.File("bad.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        var ex = Assert.Throws<InvalidDataException>(() => SafeTensors.ReadFile(path));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Thousands_of_mutated_files_either_read_or_throw_InvalidDataException_within_bounded_memory()
    {
        var stream = new MemoryStream();
        SafeTensors.Write(
            stream,
            [
                SafeTensorsEntry.FromSingles("0.weight", [1, 2, 3, 4, 5, 6], 2, 3),
                SafeTensorsEntry.FromInt64s("1.num_batches_tracked", [9], []),
                new SafeTensorsEntry("h", SafeTensorsDType.BF16, [2], [0x80, 0x3F, 0x49, 0x40]),
            ],
            new Dictionary<string, string> { ["format"] = "pt" });
        byte[][] seeds = [stream.ToArray(), ForeignStateDict()];
        var random = new Random(20240607);
        int read = 0, rejected = 0;
        long worstAllocationRatio = 0;
        for (int iteration = 0; iteration < 4000; iteration++)
        {
            var file = Mutate(seeds[iteration % seeds.Length], random);
            long before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                foreach (var entry in ReadBytes(file).Entries)
                {
                    entry.ToTensor();
                }
                read++;
            }
            catch (InvalidDataException)
            {
                rejected++;
            }
            catch (Exception ex)
            {
                Assert.Fail($"Mutation {iteration} threw {ex.GetType().Name}: {ex.Message}\nFile: {Convert.ToHexString(file)}");
            }
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            worstAllocationRatio = Math.Max(worstAllocationRatio, allocated / (file.Length + 1024));
        }
        // Both outcomes must occur, or the mutations are not exercising the reader.
        Assert.True(read > 100 && rejected > 1000, $"read {read}, rejected {rejected}");
        // Memory is bounded by the file's size (header parse + tensor copies), whatever the header claims.
        Assert.True(worstAllocationRatio < 64, $"a read allocated {worstAllocationRatio}× its file size");
    }

    private static byte[] Mutate(byte[] original, Random random)
    {
        var file = (byte[])original.Clone();
        int headerEnd = 8 + (int)BitConverter.ToUInt64(original, 0);
        switch (random.Next(8))
        {
            case 0: // flip one bit anywhere
                {
                    int i = random.Next(file.Length);
                    file[i] ^= (byte)(1 << random.Next(8));
                    return file;
                }
            case 1: // overwrite a header byte with a JSON-significant character
                {
                    const string characters = "{}[]\",:0123456789-.e x";
                    file[8 + random.Next(headerEnd - 8)] = (byte)characters[random.Next(characters.Length)];
                    return file;
                }
            case 2: // truncate
                return file[..random.Next(file.Length)];
            case 3: // a random header length
                {
                    ulong length = random.Next(3) switch
                    {
                        0 => (ulong)random.Next(file.Length + 16),
                        1 => (ulong)random.NextInt64(),
                        _ => (ulong)(headerEnd - 8 + random.Next(-8, 9)),
                    };
                    LittleEndian(length, 8).CopyTo(file, 0);
                    return file;
                }
            case 4: // replace a digit in the header by a large or different number
                {
                    var header = Encoding.UTF8.GetString(file, 8, headerEnd - 8);
                    var digits = Enumerable.Range(0, header.Length).Where(i => char.IsAsciiDigit(header[i])).ToArray();
                    if (digits.Length == 0)
                    {
                        return file;
                    }
                    int at = digits[random.Next(digits.Length)];
                    string[] replacements = ["9999999999", "4294967296", "2147483648", "0", "7", "-1", "1e3", "18446744073709551616"];
                    var mutated = header[..at] + replacements[random.Next(replacements.Length)] + header[(at + 1)..];
                    var bytes = Encoding.UTF8.GetBytes(mutated);
                    return [.. LittleEndian((ulong)bytes.Length, 8), .. bytes, .. file[headerEnd..]];
                }
            case 5: // insert random bytes
                {
                    int at = random.Next(file.Length + 1);
                    var noise = new byte[random.Next(1, 9)];
                    random.NextBytes(noise);
                    return [.. file[..at], .. noise, .. file[at..]];
                }
            case 6: // delete a run of bytes
                {
                    int at = random.Next(file.Length);
                    int count = Math.Min(random.Next(1, 9), file.Length - at);
                    return [.. file[..at], .. file[(at + count)..]];
                }
            default: // several random bytes
                for (int k = random.Next(1, 5); k > 0; k--)
                {
                    file[random.Next(file.Length)] = (byte)random.Next(256);
                }
                return file;
        }
    }
}
