using NormSharp.Autograd;
using NormSharp.Functional;
using TorchSharp;
using static TorchSharp.torch;

namespace NormSharp.Bench;

/// <summary>Matrix products: GEMM 512^3 and the Linear layers of the demo MLPs (forward + backward).</summary>
internal static class GemmCases
{
    public static IEnumerable<BenchCase> All()
    {
        yield return MatMul(512, 512, 512);
        // The (784-256-BN-ReLU-10) MLP at batch 64 and the paper's 784-100-100-100-10 MLP at batch 60.
        yield return Linear(64, 784, 256);
        yield return Linear(64, 256, 10);
        yield return Linear(60, 784, 100);
        yield return Linear(60, 100, 100);
        // The BN CNN's layers at batch 64.
        yield return Conv(64, 1, 28, 32);
        yield return Conv(64, 32, 14, 64);
        yield return Linear(64, 3136, 128);
        // ResNet-20's convolutions at batch 128 (CIFAR-10): the three stages and a downsampling convolution.
        yield return Conv(128, 16, 32, 16);
        yield return Conv(128, 32, 16, 32);
        yield return Conv(128, 64, 8, 64);
        yield return Conv(128, 16, 32, 32, stride: 2);
    }

    // 3x3 convolution, padding 1, no bias (batch norm follows), forward and the gradients of input and weight.
    private static BenchCase Conv(int batch, int inChannels, int size, int outChannels, int stride = 1)
    {
        int outSize = (size - 1) / stride + 1;
        var x = TorchUtil.Normal(7, (long)batch * inChannels * size * size);
        var w = TorchUtil.Normal(8, (long)outChannels * inChannels * 9, std: 0.1f);
        var dy = TorchUtil.Normal(9, (long)batch * outChannels * outSize * outSize);
        string strided = stride == 1 ? "" : $" stride {stride}";
        return new BenchCase("GEMM", $"Conv2d {batch}x{inChannels}x{size}x{size}→{outChannels} 3x3{strided} fwd+bwd",
            NormSharp: () =>
            {
                var tx = NormSharp.Tensor.FromArray(x, batch, inChannels, size, size);
                var tw = NormSharp.Tensor.FromArray(w, outChannels, inChannels, 3, 3);
                var tdy = NormSharp.Tensor.FromArray(dy, batch, outChannels, outSize, outSize);
                tx.RequiresGrad = tw.RequiresGrad = true;
                return new Side(() => Release.ForwardBackward(F.Conv2d(tx, tw, null, stride, padding: 1), [tx, tw], tdy));
            },
            Torch: () =>
            {
                var tx = TorchUtil.From(x, batch, inChannels, size, size).requires_grad_(true);
                var tw = TorchUtil.From(w, outChannels, inChannels, 3, 3).requires_grad_(true);
                var tdy = TorchUtil.From(dy, batch, outChannels, outSize, outSize);
                return new Side(
                    () =>
                    {
                        using var scope = torch.NewDisposeScope();
                        var y = nn.functional.conv2d(tx, tw, strides: [stride, stride], padding: [1, 1]);
                        torch.autograd.grad([y], [tx, tw], [tdy]);
                    },
                    () =>
                    {
                        tx.Dispose();
                        tw.Dispose();
                        tdy.Dispose();
                    });
            });
    }

    private static BenchCase MatMul(int m, int n, int k)
    {
        var a = TorchUtil.Normal(1, (long)m * k);
        var b = TorchUtil.Normal(2, (long)k * n);
        return new BenchCase("GEMM", $"MatMul {m}x{k} @ {k}x{n}",
            NormSharp: () =>
            {
                var ta = NormSharp.Tensor.FromArray(a, m, k);
                var tb = NormSharp.Tensor.FromArray(b, k, n);
                return new Side(() => ta.MatMul(tb).Dispose());
            },
            Torch: () =>
            {
                var ta = TorchUtil.From(a, m, k);
                var tb = TorchUtil.From(b, k, n);
                return new Side(
                    () =>
                    {
                        using var scope = torch.NewDisposeScope();
                        torch.matmul(ta, tb);
                    },
                    () =>
                    {
                        ta.Dispose();
                        tb.Dispose();
                    });
            });
    }

    // y = x Wᵀ + b, then the gradients of x, W and b for a random upstream gradient.
    private static BenchCase Linear(int batch, int inFeatures, int outFeatures)
    {
        var x = TorchUtil.Normal(3, (long)batch * inFeatures);
        var w = TorchUtil.Normal(4, (long)outFeatures * inFeatures, std: 0.05f);
        var bias = TorchUtil.Normal(5, outFeatures);
        var dy = TorchUtil.Normal(6, (long)batch * outFeatures);
        return new BenchCase("GEMM", $"Linear {batch}x{inFeatures}→{outFeatures} fwd+bwd",
            NormSharp: () =>
            {
                var tx = NormSharp.Tensor.FromArray(x, batch, inFeatures);
                var tw = NormSharp.Tensor.FromArray(w, outFeatures, inFeatures);
                var tb = NormSharp.Tensor.FromArray(bias, outFeatures);
                var tdy = NormSharp.Tensor.FromArray(dy, batch, outFeatures);
                tx.RequiresGrad = tw.RequiresGrad = tb.RequiresGrad = true;
                return new Side(() => Release.ForwardBackward(F.Linear(tx, tw, tb), [tx, tw, tb], tdy));
            },
            Torch: () =>
            {
                var tx = TorchUtil.From(x, batch, inFeatures).requires_grad_(true);
                var tw = TorchUtil.From(w, outFeatures, inFeatures).requires_grad_(true);
                var tb = TorchUtil.From(bias, outFeatures).requires_grad_(true);
                var tdy = TorchUtil.From(dy, batch, outFeatures);
                return new Side(
                    () =>
                    {
                        using var scope = torch.NewDisposeScope();
                        var y = nn.functional.linear(tx, tw, tb);
                        torch.autograd.grad([y], [tx, tw, tb], [tdy]);
                    },
                    () =>
                    {
                        tx.Dispose();
                        tw.Dispose();
                        tb.Dispose();
                        tdy.Dispose();
                    });
            });
    }
}
