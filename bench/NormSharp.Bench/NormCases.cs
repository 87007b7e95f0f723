using NormSharp.Autograd;
using NormSharp.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace NormSharp.Bench;

/// <summary>
/// Normalization layers side by side: BatchNorm2d in both layouts, BatchNorm1d, LayerNorm, GroupNorm, InstanceNorm2d
/// (affine). Training forward, forward + backward (gradients of input, weight and bias for a random upstream
/// gradient), and evaluation.
/// </summary>
/// <remarks>
/// Bytes counted for the roofline, S = bytes of the input: a training forward reads x for the statistics and
/// again to write y (3S); a backward reads dy and x for the two per-channel sums and again to write dx (5S), so
/// forward + backward is 8S; evaluation reads x and writes y (2S). A kernel that re-reads from cache instead of
/// memory can exceed 100%. Row norms read each row again from cache (LayerNorm's and InstanceNorm's rows fit in L1,
/// GroupNorm's of 8 channels x 56x56 in L2), so their forward is 2S and their forward + backward 5S.
/// </remarks>
internal static class NormCases
{
    public static readonly (int N, int C, int H, int W)[] Shapes2d = [(32, 64, 56, 56), (128, 256, 14, 14), (64, 512, 7, 7), (256, 32, 28, 28)];

    public static IEnumerable<BenchCase> All()
    {
        foreach (bool channelsLast in new[] { false, true })
        {
            foreach (var shape in Shapes2d)
            {
                foreach (var mode in new[] { Mode.TrainForward, Mode.ForwardBackward, Mode.Eval })
                {
                    yield return BatchNorm2d(shape.N, shape.C, shape.H, shape.W, channelsLast, mode);
                }
            }
        }
        foreach (var (n, c) in new[] { (1024, 256), (60, 100) })
        {
            foreach (var mode in new[] { Mode.TrainForward, Mode.ForwardBackward, Mode.Eval })
            {
                yield return BatchNorm1d(n, c, mode);
            }
        }
        yield return LayerNorm(64, 128, 768, backward: false);
        yield return LayerNorm(64, 128, 768, backward: true);
        foreach (bool backward in new[] { false, true })
        {
            yield return RowNorm2d("GroupNorm", 32, 64, 56, 56, backward, () => new Nn.GroupNorm(8, 64), () => nn.GroupNorm(8, 64));
        }
        foreach (bool backward in new[] { false, true })
        {
            yield return RowNorm2d("InstanceNorm2d affine", 32, 64, 56, 56, backward, () => new Nn.InstanceNorm2d(64, affine: true),
                () => nn.InstanceNorm2d(64, affine: true));
        }
    }

    internal enum Mode
    {
        TrainForward,
        ForwardBackward,
        Eval,
    }

    private static string Label(Mode mode) => mode switch
    {
        Mode.TrainForward => "train fwd",
        Mode.ForwardBackward => "fwd+bwd",
        _ => "eval",
    };

    private static (double Bytes, string Traffic) Traffic(Mode mode, long s) => mode switch
    {
        Mode.TrainForward => (3.0 * s, "3S"),
        Mode.ForwardBackward => (8.0 * s, "8S"),
        _ => (2.0 * s, "2S"),
    };

    private static BenchCase BatchNorm2d(int n, int c, int h, int w, bool channelsLast, Mode mode)
    {
        long count = (long)n * c * h * w;
        var data = Data(count, 10);
        var (bytes, traffic) = Traffic(mode, count * sizeof(float));
        int[] ourShape = channelsLast ? [n, h, w, c] : [n, c, h, w];
        return new BenchCase(
            channelsLast ? "BatchNorm2d channels-last" : "BatchNorm2d NCHW",
            $"({n},{c},{h},{w}) {Label(mode)}",
            NormSharp: () => OurSide(new Nn.BatchNorm2d(c, channelAxis: channelsLast ? -1 : 1), data.Value.X, data.Value.Dy, ourShape, mode),
            Torch: () => TorchSide(nn.BatchNorm2d(c),
                () => channelsLast ? TorchUtil.ChannelsLast(data.Value.X, n, c, h, w) : TorchUtil.From(data.Value.X, n, c, h, w),
                () => channelsLast ? TorchUtil.ChannelsLast(data.Value.Dy, n, c, h, w) : TorchUtil.From(data.Value.Dy, n, c, h, w), mode),
            BytesMoved: bytes,
            CopyBytes: count * sizeof(float),
            Traffic: traffic);
    }

    private static BenchCase BatchNorm1d(int n, int c, Mode mode)
    {
        long count = (long)n * c;
        var data = Data(count, 12);
        var (bytes, traffic) = Traffic(mode, count * sizeof(float));
        return new BenchCase("BatchNorm1d", $"({n},{c}) {Label(mode)}",
            NormSharp: () => OurSide(new Nn.BatchNorm1d(c), data.Value.X, data.Value.Dy, [n, c], mode),
            Torch: () => TorchSide(nn.BatchNorm1d(c), () => TorchUtil.From(data.Value.X, n, c), () => TorchUtil.From(data.Value.Dy, n, c), mode),
            BytesMoved: bytes,
            CopyBytes: count * sizeof(float),
            Traffic: traffic);
    }

    private static BenchCase LayerNorm(int n, int t, int features, bool backward)
    {
        long count = (long)n * t * features;
        var data = Data(count, 14);
        var mode = backward ? Mode.ForwardBackward : Mode.TrainForward;
        return new BenchCase("LayerNorm", $"({n},{t},{features}) {(backward ? "fwd+bwd" : "fwd")}",
            NormSharp: () => OurSide(new Nn.LayerNorm([features]), data.Value.X, data.Value.Dy, [n, t, features], mode),
            Torch: () => TorchSide(nn.LayerNorm(features), () => TorchUtil.From(data.Value.X, n, t, features), () => TorchUtil.From(data.Value.Dy, n, t, features), mode),
            BytesMoved: (backward ? 5.0 : 2.0) * count * sizeof(float),
            CopyBytes: count * sizeof(float),
            Traffic: backward ? "5S" : "2S");
    }

    // GroupNorm or InstanceNorm2d (statistics per sample, weight and bias per channel) on (n, c, h, w).
    private static BenchCase RowNorm2d(string group, int n, int c, int h, int w, bool backward, Func<Module> ours, Func<nn.Module<TorchTensor, TorchTensor>> theirs)
    {
        long count = (long)n * c * h * w;
        var data = Data(count, 16);
        var mode = backward ? Mode.ForwardBackward : Mode.TrainForward;
        return new BenchCase(group, $"({n},{c},{h},{w}) {(backward ? "fwd+bwd" : "fwd")}",
            NormSharp: () => OurSide(ours(), data.Value.X, data.Value.Dy, [n, c, h, w], mode),
            Torch: () => TorchSide(theirs(), () => TorchUtil.From(data.Value.X, n, c, h, w), () => TorchUtil.From(data.Value.Dy, n, c, h, w), mode),
            BytesMoved: (backward ? 5.0 : 2.0) * count * sizeof(float),
            CopyBytes: count * sizeof(float),
            Traffic: backward ? "5S" : "2S");
    }

    // Input x ~ N(0.3, 1.7²) and upstream gradient dy ~ N(0, 1), made only when the case is measured.
    internal static Lazy<(float[] X, float[] Dy)> Data(long count, int seed) =>
        new(() => (TorchUtil.Normal(seed, count, mean: 0.3f, std: 1.7f), TorchUtil.Normal(seed + 1, count)));

    // NormSharp: the layer on a tensor; fwd+bwd through Gradients.Of, which returns the gradients of input, weight and
    // bias without accumulating them, as libtorch's autograd.grad on the other side. What a call returns is disposed at
    // its end, as the libtorch side's DisposeScope disposes its tensors, so both allocators can reuse the memory at once.
    internal static Side OurSide(Module layer, float[] x, float[] dy, int[] shape, Mode mode)
    {
        var input = Tensor.FromArray(x, shape);
        var gradOutput = Tensor.FromArray(dy, shape);
        var parameters = layer.Parameters().ToList();
        switch (mode)
        {
            case Mode.TrainForward:
                layer.Train();
                return new Side(() => layer.Forward(input).Dispose());
            case Mode.ForwardBackward:
                layer.Train();
                input.RequiresGrad = true;
                var inputs = new List<Tensor> { input };
                inputs.AddRange(parameters);
                return new Side(() => Release.ForwardBackward(layer.Forward(input), inputs, gradOutput));
            default:
                layer.Train();
                using (new NoGrad())
                {
                    layer.Forward(input);   // running statistics that are not the initial 0 / 1
                }
                layer.Eval();
                return new Side(() =>
                {
                    using var noGrad = new NoGrad();
                    layer.Forward(input).Dispose();
                });
        }
    }

    // libtorch: the same; fwd+bwd through autograd.grad, which returns the gradients without accumulating them.
    internal static Side TorchSide(nn.Module<TorchTensor, TorchTensor> layer, Func<TorchTensor> makeInput, Func<TorchTensor> makeGrad, Mode mode)
    {
        var input = makeInput();
        var gradOutput = makeGrad();
        var parameters = layer.parameters().Select(p => (TorchTensor)p).ToList();
        void Dispose()
        {
            input.Dispose();
            gradOutput.Dispose();
            layer.Dispose();
        }
        switch (mode)
        {
            case Mode.TrainForward:
                layer.train();
                return new Side(() =>
                {
                    using var scope = torch.NewDisposeScope();
                    layer.forward(input);
                }, Dispose);
            case Mode.ForwardBackward:
                layer.train();
                input.requires_grad_(true);
                var inputs = new List<TorchTensor> { input };
                inputs.AddRange(parameters);
                return new Side(() =>
                {
                    using var scope = torch.NewDisposeScope();
                    var y = layer.forward(input);
                    torch.autograd.grad([y], inputs, [gradOutput]);
                }, Dispose);
            default:
                layer.train();
                using (torch.no_grad())
                using (torch.NewDisposeScope())
                {
                    layer.forward(input);
                }
                layer.eval();
                return new Side(() =>
                {
                    using var noGrad = torch.no_grad();
                    using var scope = torch.NewDisposeScope();
                    layer.forward(input);
                }, Dispose);
        }
    }
}
