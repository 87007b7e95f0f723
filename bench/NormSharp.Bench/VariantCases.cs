using TorchSharp;
using static TorchSharp.torch;

namespace NormSharp.Bench;

/// <summary>
/// The batch-norm variants against libtorch's plain BatchNorm2d on the same data (libtorch has neither): what
/// BatchRenorm2d (one extra read of the input for the statistics behind r and d) and GhostBatchNorm2d (chunks of 8
/// samples) cost over batch norm. Compare their speed-ups with the "BatchNorm2d NCHW" rows of the same shape.
/// </summary>
internal static class VariantCases
{
    public static IEnumerable<BenchCase> All()
    {
        var (n, c, h, w) = NormCases.Shapes2d[0];
        foreach (var mode in new[] { NormCases.Mode.TrainForward, NormCases.Mode.ForwardBackward })
        {
            yield return Case("BatchRenorm2d NCHW", () => new Nn.BatchRenorm2d(c), n, c, h, w, mode);
            yield return Case("GhostBatchNorm2d(8) NCHW", () => new Nn.GhostBatchNorm2d(c, virtualBatchSize: 8), n, c, h, w, mode);
        }
    }

    private static BenchCase Case(string group, Func<Nn.Module> layer, int n, int c, int h, int w, NormCases.Mode mode)
    {
        long count = (long)n * c * h * w;
        var data = NormCases.Data(count, 10);
        return new BenchCase(group, $"({n},{c},{h},{w}) {(mode == NormCases.Mode.TrainForward ? "train fwd" : "fwd+bwd")} vs libtorch BatchNorm2d",
            NormSharp: () => NormCases.OurSide(layer(), data.Value.X, data.Value.Dy, [n, c, h, w], mode),
            Torch: () => NormCases.TorchSide(nn.BatchNorm2d(c), () => TorchUtil.From(data.Value.X, n, c, h, w), () => TorchUtil.From(data.Value.Dy, n, c, h, w), mode));
    }
}
