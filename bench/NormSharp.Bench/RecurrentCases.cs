using NormSharp.Autograd;
using NormSharp.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace NormSharp.Bench;

/// <summary>
/// LSTM and GRU side by side with libtorch's nn.LSTM / nn.GRU (its CPU kernels, not cuDNN): the forward over a whole
/// sequence, and forward + backward (gradients of the input and every weight for a random upstream gradient on the
/// outputs). Shapes: the demo's row-by-row Fashion-MNIST reader (L 28, N 64, I 28, H 128) and a wider one.
/// </summary>
internal static class RecurrentCases
{
    public static IEnumerable<BenchCase> All()
    {
        foreach (bool lstm in new[] { true, false })
        {
            foreach (var (length, batch, inputSize, hidden) in new[] { (28, 64, 28, 128), (50, 32, 64, 256) })
            {
                foreach (bool backward in new[] { false, true })
                {
                    yield return Case(lstm, length, batch, inputSize, hidden, backward);
                }
            }
        }
    }

    private static BenchCase Case(bool lstm, int length, int batch, int inputSize, int hidden, bool backward)
    {
        var data = new Lazy<(float[] X, float[] Dy)>(() =>
            (TorchUtil.Normal(30, (long)length * batch * inputSize), TorchUtil.Normal(31, (long)length * batch * hidden)));
        return new BenchCase(lstm ? "LSTM" : "GRU", $"(L {length}, N {batch}, I {inputSize}, H {hidden}) {(backward ? "fwd+bwd" : "fwd")}",
            NormSharp: () => OurSide(lstm ? new LSTM(inputSize, hidden) : new GRU(inputSize, hidden), data.Value.X, data.Value.Dy, length, batch, inputSize, hidden, backward),
            Torch: () => TorchSide(lstm, data.Value.X, data.Value.Dy, length, batch, inputSize, hidden, backward));
    }

    private static Side OurSide(RecurrentBase layer, float[] x, float[] dy, int length, int batch, int inputSize, int hidden, bool backward)
    {
        var input = Tensor.FromArray(x, length, batch, inputSize);
        var gradOutput = Tensor.FromArray(dy, length, batch, hidden);
        if (!backward)
        {
            return new Side(() =>
            {
                using var noGrad = new NoGrad();
                layer.Forward(input).Dispose();
            });
        }
        input.RequiresGrad = true;
        var inputs = new List<Tensor> { input };
        inputs.AddRange(layer.Parameters());
        return new Side(() => Release.ForwardBackward(layer.Forward(input), inputs, gradOutput));
    }

    private static Side TorchSide(bool lstm, float[] x, float[] dy, int length, int batch, int inputSize, int hidden, bool backward)
    {
        var input = TorchUtil.From(x, length, batch, inputSize);
        var gradOutput = TorchUtil.From(dy, length, batch, hidden);
        nn.Module layer = lstm ? nn.LSTM(inputSize, hidden) : nn.GRU(inputSize, hidden);
        TorchTensor Forward(TorchTensor value) => lstm
            ? ((nn.Module<TorchTensor, (TorchTensor, TorchTensor)?, (TorchTensor, TorchTensor, TorchTensor)>)layer).call(value, null).Item1
            : ((nn.Module<TorchTensor, TorchTensor?, (TorchTensor, TorchTensor)>)layer).call(value, null).Item1;
        void Dispose()
        {
            input.Dispose();
            gradOutput.Dispose();
            layer.Dispose();
        }
        if (!backward)
        {
            return new Side(() =>
            {
                using var noGrad = torch.no_grad();
                using var scope = torch.NewDisposeScope();
                Forward(input);
            }, Dispose);
        }
        input.requires_grad_(true);
        var inputs = new List<TorchTensor> { input };
        inputs.AddRange(layer.parameters().Select(p => (TorchTensor)p));
        return new Side(() =>
        {
            using var scope = torch.NewDisposeScope();
            torch.autograd.grad([Forward(input)], inputs, [gradOutput]);
        }, Dispose);
    }
}
