using TorchSharp;
using static TorchSharp.torch;

namespace NormSharp.Bench;

/// <summary>libtorch helpers: data from NormSharp's generator (both sides see the same numbers), layouts.</summary>
internal static class TorchUtil
{
    private static bool initialized;

    /// <summary>Loads libtorch and fixes its intra-op threads to the core count, as NormSharp uses.</summary>
    public static void Initialize()
    {
        if (initialized)
        {
            return;
        }
        torch.InitializeDeviceType(DeviceType.CPU);
        torch.set_num_threads(Environment.ProcessorCount);
        initialized = true;
    }

    /// <summary>A libtorch tensor holding a copy of <paramref name="data"/> with the given shape.</summary>
    public static TorchTensor From(float[] data, params long[] shape) => torch.tensor(data, shape, ScalarType.Float32);

    /// <summary>
    /// An NCHW-shaped tensor stored channels-last: <paramref name="data"/> is laid out [N, H, W, C], and the
    /// permuted view has libtorch's channels_last strides (TorchSharp 0.107 has no memory_format argument).
    /// </summary>
    public static TorchTensor ChannelsLast(float[] data, long n, long c, long h, long w) =>
        torch.tensor(data, [n, h, w, c], ScalarType.Float32).permute(0, 3, 1, 2);

    /// <summary>Normal(0, 1) values from a seeded NormSharp generator.</summary>
    public static float[] Normal(int seed, long count, float mean = 0f, float std = 1f)
    {
        var values = new float[count];
        new Generator(seed).FillNormal(values);
        if (mean != 0f || std != 1f)
        {
            for (long i = 0; i < count; i++)
            {
                values[i] = mean + std * values[i];
            }
        }
        return values;
    }
}
