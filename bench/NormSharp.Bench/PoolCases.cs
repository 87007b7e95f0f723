using NormSharp.Autograd;
using NormSharp.Functional;
using TorchSharp;
using static TorchSharp.torch;

namespace NormSharp.Bench;

/// <summary>
/// The "pooling" group (issue 12): max pooling 2×2 (the demo CNN's downsampling) and 3×3 stride 2 padding 1 (the ResNet
/// stem), and global average pooling (the ResNet head), each forward and the input's gradient for a random upstream
/// gradient, side by side with libtorch on ResNet-like shapes.
/// </summary>
/// <remarks>
/// The memory-traffic floor of a pooling forward + backward: read x (S), write y (S/k, k the stride's area), read the
/// upstream gradient (S/k) and write dx (S); max pooling also writes and reads one 4-byte index per output (2S/k).
/// </remarks>
internal static class PoolCases
{
    private const string Group = "Pooling";

    public static IEnumerable<BenchCase> All()
    {
        yield return Case("MaxPool2d 2x2", [32, 64, 56, 56], x => F.MaxPool2d(x, 2), x => nn.functional.max_pool2d(x, 2), strideArea: 4, indices: true);
        yield return Case("MaxPool2d 2x2", [128, 32, 28, 28], x => F.MaxPool2d(x, 2), x => nn.functional.max_pool2d(x, 2), strideArea: 4, indices: true);
        yield return Case("MaxPool2d 3x3 stride 2 padding 1", [16, 64, 112, 112], x => F.MaxPool2d(x, 3, 2, 1),
            x => nn.functional.max_pool2d(x, 3, 2, 1), strideArea: 4, indices: true);
        yield return Case("global AvgPool2d(8)", [128, 64, 8, 8], x => F.AvgPool2d(x, 8), x => nn.functional.avg_pool2d(x, 8), strideArea: 64, indices: false);
        yield return Case("AdaptiveAvgPool2d(1)", [32, 512, 7, 7], x => F.AdaptiveAvgPool2d(x, 1),
            x => nn.functional.adaptive_avg_pool2d(x, 1), strideArea: 49, indices: false);
    }

    // y = pool(x), then the gradient of x for a random upstream gradient g.
    private static BenchCase Case(string name, int[] shape, Func<Tensor, Tensor> ours, Func<TorchTensor, TorchTensor> theirs, int strideArea, bool indices)
    {
        long count = shape.Aggregate(1L, (a, b) => a * b);
        var data = new Lazy<float[]>(() => TorchUtil.Normal(31, count, mean: 0.3f, std: 1.7f));
        long[] torchShape = Array.ConvertAll(shape, d => (long)d);
        long bytes = count * sizeof(float);
        double floor = 2.0 * bytes + 2.0 * bytes / strideArea + (indices ? 2.0 * bytes / strideArea : 0);
        return new BenchCase(Group, $"{name} ({string.Join(",", shape)}) fwd+bwd",
            NormSharp: () =>
            {
                var x = Tensor.FromArray(data.Value, shape);
                x.RequiresGrad = true;
                Tensor? g = null;
                return new Side(() =>
                {
                    using var y = ours(x);
                    g ??= Tensor.FromArray(TorchUtil.Normal(32, y.Length), y.Shape);
                    foreach (var gradient in Gradients.Of(y, [x], g))
                    {
                        gradient.Dispose();
                    }
                });
            },
            Torch: () =>
            {
                var x = torch.tensor(data.Value, torchShape).requires_grad_(true);
                TorchTensor? g = null;
                return new Side(
                    () =>
                    {
                        using var scope = torch.NewDisposeScope();
                        var y = theirs(x);
                        g ??= torch.tensor(TorchUtil.Normal(32, y.numel()), y.shape).DetachFromDisposeScope();
                        torch.autograd.grad([y], [x], [g]);
                    },
                    () =>
                    {
                        x.Dispose();
                        g?.Dispose();
                    });
            },
            BytesMoved: floor,
            CopyBytes: bytes,
            Traffic: indices ? $"2S+4S/{strideArea}" : $"2S+2S/{strideArea}");
    }
}
