using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;
using TorchTensor = TorchSharp.torch.Tensor;

namespace NormSharp.Oracle;

/// <summary>
/// The bridge to libtorch: loading the natives once, and copying tensors between NormSharp and
/// libtorch. Copies always go through fresh arrays, so neither side ever aliases the other's memory.
/// </summary>
internal static class LibTorch
{
    private static readonly Lazy<string> Loaded = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The path libLibTorchSharp.so was mapped from (for the log).</summary>
    public static string LoadedFrom => Loaded.Value;

    /// <summary>Loads libtorch and sets one intra-op thread; idempotent and thread-safe.</summary>
    public static void EnsureLoaded() => _ = Loaded.Value;

    private static string Load()
    {
        try
        {
            // Optional (torch's static constructor does it too), but here a failure carries
            // TorchSharp's load trace in the message.
            torch.InitializeDeviceType(DeviceType.CPU);
        }
        catch (Exception ex) when (ex is NotSupportedException or DllNotFoundException or TypeInitializationException or ExternalException)
        {
            throw new InvalidOperationException(
                "libtorch did not load. On Debian 12 TorchSharp's libLibTorchSharp.so must be patched by the build " +
                "(target PatchLibTorchSharp in build/LibTorchSharp.targets): build the project instead of running " +
                "`dotnet test --no-build` on a fresh bin/, and check that bin/*/net10.0/runtimes/linux-x64/native/ holds " +
                "libios_base_library_init_stub.so. Loader said: " + ex.Message, ex);
        }
        // Process-wide: one thread gives a fixed reduction order (failures reproduce exactly) and
        // does not fight the test runner for the two cores.
        torch.set_num_threads(1);
        return MappedPath("libLibTorchSharp.so");
    }

    /// <summary>A libtorch copy of <paramref name="tensor"/>, as a leaf that optionally requires grad.</summary>
    public static TorchTensor From(Tensor tensor, bool requiresGrad = false, ScalarType dtype = ScalarType.Float32)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        return From(tensor.ToArray(), tensor.Shape, requiresGrad, dtype);
    }

    /// <summary>A libtorch tensor holding a copy of <paramref name="data"/>.</summary>
    public static TorchTensor From(float[] data, int[] shape, bool requiresGrad = false, ScalarType dtype = ScalarType.Float32)
    {
        EnsureLoaded();
        var dimensions = shape.Select(d => (long)d).ToArray();
        var result = torch.tensor((IList<float>)(float[])data.Clone(), dimensions, ScalarType.Float32);
        if (dtype != ScalarType.Float32)
        {
            result = result.to_type(dtype);
        }
        return requiresGrad ? result.requires_grad_(true) : result;
    }

    /// <summary>Integer class indices as a libtorch int64 tensor.</summary>
    public static TorchTensor Indices(int[] values)
    {
        EnsureLoaded();
        return torch.tensor(values.Select(v => (long)v).ToArray(), ScalarType.Int64);
    }

    /// <summary>A NormSharp copy of a libtorch tensor (any float dtype, any layout), in float32.</summary>
    public static Tensor ToNormSharp(TorchTensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var values = ToDoubles(tensor).Select(v => (float)v).ToArray();
        return Tensor.FromArray(values, Shape(tensor));
    }

    /// <summary>The values of a libtorch tensor in row-major order, widened to double.</summary>
    public static double[] ToDoubles(TorchTensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        using var scope = torch.NewDisposeScope();
        return tensor.detach().contiguous().to_type(ScalarType.Float64).data<double>().ToArray();
    }

    /// <summary>The shape of a libtorch tensor as ints.</summary>
    public static int[] Shape(TorchTensor tensor) => tensor.shape.Select(d => checked((int)d)).ToArray();

    private static string MappedPath(string fileName)
    {
        try
        {
            return File.ReadLines("/proc/self/maps")
                .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "")
                .FirstOrDefault(path => path.EndsWith("/" + fileName, StringComparison.Ordinal)) ?? "(not mapped)";
        }
        catch (IOException)
        {
            return "(unknown)";
        }
    }
}
