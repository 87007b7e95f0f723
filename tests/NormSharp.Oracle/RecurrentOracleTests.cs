using NormSharp.Nn;
using static TorchSharp.torch;
using TorchTensor = TorchSharp.torch.Tensor;

namespace NormSharp.Oracle;

/// <summary>
/// LSTM, GRU, LSTMCell and GRUCell against libtorch's nn.LSTM / nn.GRU / nn.LSTMCell / nn.GRUCell (float64): the
/// NormSharp layer's random parameters go to libtorch through its state dict (so the keys must match), then outputs,
/// final states, the input and initial-state gradients and every weight gradient are compared, with random upstream
/// gradients on every output. Variable lengths: libtorch runs each unpadded sequence on its own.
/// </summary>
[Collection(LibTorchCollection.Name)]
public class RecurrentOracleTests
{
    public static TheoryData<int, bool, int, int, bool, bool, bool> Cases()
    {
        var data = new TheoryData<int, bool, int, int, bool, bool, bool>();
        int seed = 1400;
        foreach (bool lstm in new[] { true, false })
        {
            foreach (var (layers, length, batchFirst, bias, state) in new[]
                     {
                         (1, 1, false, true, false), (1, 5, false, true, true), (1, 7, true, false, true),
                         (2, 4, false, true, true), (2, 6, true, true, false), (2, 3, true, false, true),
                     })
            {
                data.Add(seed++, lstm, layers, length, batchFirst, bias, state);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Recurrent_layer_matches_libtorch(int seed, bool lstm, int layers, int length, bool batchFirst, bool bias, bool withState)
    {
        const int batch = 3, inputSize = 5, hidden = 4;
        var check = new OracleCase(lstm ? "LSTM" : "GRU", $"seed={seed} layers={layers} L={length} N={batch} I={inputSize} H={hidden} batchFirst={batchFirst} bias={bias} state={withState}");
        var inputs = new Inputs(seed);
        RecurrentBase layer = lstm
            ? new LSTM(inputSize, hidden, layers, bias, batchFirst, generator: new Generator(seed))
            : new GRU(inputSize, hidden, layers, bias, batchFirst, generator: new Generator(seed));
        var x = Leaf(inputs.Randn(batchFirst ? [batch, length, inputSize] : [length, batch, inputSize]));
        var h0 = Leaf(inputs.Randn(layers, batch, hidden));
        var c0 = Leaf(inputs.Randn(layers, batch, hidden));

        using var scope = NewDisposeScope();
        var torchLayer = lstm
            ? (TorchSharp.torch.nn.Module)nn.LSTM(inputSize, hidden, layers, bias, batchFirst, dtype: OracleCase.OracleType)
            : nn.GRU(inputSize, hidden, layers, bias, batchFirst, dtype: OracleCase.OracleType);
        LoadState(torchLayer, layer);
        var tx = LibTorch.From(x, true, OracleCase.OracleType);
        var th0 = LibTorch.From(h0, true, OracleCase.OracleType);
        var tc0 = LibTorch.From(c0, true, OracleCase.OracleType);

        Tensor output, hn, cn = null!;
        TorchTensor tOutput, thn, tcn = null!;
        if (layer is LSTM l)
        {
            (output, (hn, cn)) = l.Forward(x, withState ? (h0, c0) : null);
            (tOutput, thn, tcn) = ((nn.Module<TorchTensor, (TorchTensor, TorchTensor)?, (TorchTensor, TorchTensor, TorchTensor)>)torchLayer)
                .call(tx, withState ? (th0, tc0) : null);
        }
        else
        {
            (output, hn) = ((GRU)layer).Forward(x, withState ? h0 : null);
            (tOutput, thn) = ((nn.Module<TorchTensor, TorchTensor?, (TorchTensor, TorchTensor)>)torchLayer).call(tx, withState ? th0 : null);
        }
        check.Close("output", output, tOutput);
        check.Close("h_n", hn, thn);
        var loss = Weighted(output, inputs.Randn(output.Shape)) + Weighted(hn, inputs.Randn(hn.Shape));
        var torchLoss = Weighted(tOutput, output.Shape, loss.Upstreams[0]) + Weighted(thn, hn.Shape, loss.Upstreams[1]);
        if (lstm)
        {
            check.Close("c_n", cn, tcn);
            var g = inputs.Randn(cn.Shape);
            loss = loss + Weighted(cn, g);
            torchLoss += Weighted(tcn, cn.Shape, g);
        }
        loss.Total.Backward();
        torchLoss.backward();
        check.Close("grad input", x.Grad, tx.grad);
        if (withState)
        {
            check.Close("grad h0", h0.Grad, th0.grad);
            if (lstm)
            {
                check.Close("grad c0", c0.Grad, tc0.grad);
            }
        }
        CompareParameterGradients(check, layer, torchLayer);
    }

    [Theory]
    [InlineData(1450, true)]
    [InlineData(1451, false)]
    public void Variable_lengths_match_libtorch_on_each_unpadded_sequence(int seed, bool lstm)
    {
        const int length = 6, inputSize = 3, hidden = 4, layers = 2;
        int[] lengths = [6, 2, 4, 1, 5];
        int batch = lengths.Length;
        var check = new OracleCase(lstm ? "LSTM" : "GRU", $"seed={seed} layers={layers} L={length} lengths=[{string.Join(",", lengths)}] batchFirst=True");
        var inputs = new Inputs(seed);
        RecurrentBase layer = lstm
            ? new LSTM(inputSize, hidden, layers, batchFirst: true, generator: new Generator(seed))
            : new GRU(inputSize, hidden, layers, batchFirst: true, generator: new Generator(seed));
        var x = Leaf(inputs.Randn(batch, length, inputSize));
        var (output, hn) = layer is LSTM l ? Outputs(l.Forward(x, null, lengths)) : ((GRU)layer).Forward(x, null, lengths);
        var upstream = inputs.Randn(output.Shape);
        var upstreamH = inputs.Randn(hn.Shape);
        (Weighted(output, upstream) + Weighted(hn, upstreamH)).Total.Backward();

        using var scope = NewDisposeScope();
        var torchLayer = lstm
            ? (TorchSharp.torch.nn.Module)nn.LSTM(inputSize, hidden, layers, batchFirst: true, dtype: OracleCase.OracleType)
            : nn.GRU(inputSize, hidden, layers, batchFirst: true, dtype: OracleCase.OracleType);
        LoadState(torchLayer, layer);
        var values = output.ToArray();
        var gradValues = x.Grad!.ToArray();
        var gradUpstream = upstream.ToArray();
        var hValues = hn.ToArray();
        var hUpstream = upstreamH.ToArray();
        for (int n = 0; n < batch; n++)
        {
            // Sample n alone, cut to its length: [1, lengths[n], I].
            var sample = x.ToArray().AsSpan(n * length * inputSize, lengths[n] * inputSize).ToArray();
            var tx = LibTorch.From(sample, [1, lengths[n], inputSize], true, OracleCase.OracleType);
            TorchTensor tOutput, thn;
            if (lstm)
            {
                (tOutput, thn, _) = ((nn.Module<TorchTensor, (TorchTensor, TorchTensor)?, (TorchTensor, TorchTensor, TorchTensor)>)torchLayer).call(tx, null);
            }
            else
            {
                (tOutput, thn) = ((nn.Module<TorchTensor, TorchTensor?, (TorchTensor, TorchTensor)>)torchLayer).call(tx, null);
            }
            var outputRows = values.AsSpan(n * length * hidden, lengths[n] * hidden).ToArray();
            check.Close($"output of sample {n}", Tensor.FromArray(outputRows, 1, lengths[n], hidden), tOutput);
            Assert.All(values.AsSpan((n * length + lengths[n]) * hidden, (length - lengths[n]) * hidden).ToArray(), v => Assert.Equal(0f, v));
            var hRows = Enumerable.Range(0, layers).SelectMany(k => hValues.AsSpan((k * batch + n) * hidden, hidden).ToArray()).ToArray();
            check.Close($"h_n of sample {n}", Tensor.FromArray(hRows, layers, 1, hidden), thn);
            var g = gradUpstream.AsSpan(n * length * hidden, lengths[n] * hidden).ToArray();
            var gh = Enumerable.Range(0, layers).SelectMany(k => hUpstream.AsSpan((k * batch + n) * hidden, hidden).ToArray()).ToArray();
            var torchLoss = Weighted(tOutput, [1, lengths[n], hidden], Tensor.FromArray(g, 1, lengths[n], hidden))
                + Weighted(thn, [layers, 1, hidden], Tensor.FromArray(gh, layers, 1, hidden));
            torchLoss.backward();   // parameter gradients accumulate over the samples, as the padded batch's do
            var gradRows = gradValues.AsSpan(n * length * inputSize, lengths[n] * inputSize).ToArray();
            check.Close($"grad input of sample {n}", Tensor.FromArray(gradRows, 1, lengths[n], inputSize), tx.grad);
            Assert.All(gradValues.AsSpan((n * length + lengths[n]) * inputSize, (length - lengths[n]) * inputSize).ToArray(), v => Assert.Equal(0f, v));
        }
        CompareParameterGradients(check, layer, torchLayer);
    }

    [Theory]
    [InlineData(1460, true, true)]
    [InlineData(1461, true, false)]
    [InlineData(1462, false, true)]
    [InlineData(1463, false, false)]
    public void Cells_match_libtorch(int seed, bool lstm, bool bias)
    {
        const int batch = 4, inputSize = 6, hidden = 5;
        var check = new OracleCase(lstm ? "LSTMCell" : "GRUCell", $"seed={seed} N={batch} I={inputSize} H={hidden} bias={bias}");
        var inputs = new Inputs(seed);
        var x = Leaf(inputs.Randn(batch, inputSize));
        var h = Leaf(inputs.Randn(batch, hidden));
        var c = Leaf(inputs.Randn(batch, hidden));
        using var scope = NewDisposeScope();
        var tx = LibTorch.From(x, true, OracleCase.OracleType);
        var th = LibTorch.From(h, true, OracleCase.OracleType);
        var tc = LibTorch.From(c, true, OracleCase.OracleType);
        Module cell;
        TorchSharp.torch.nn.Module torchCell;
        if (lstm)
        {
            var ns = new LSTMCell(inputSize, hidden, bias, new Generator(seed));
            var torchLstm = nn.LSTMCell(inputSize, hidden, bias, dtype: OracleCase.OracleType);
            (cell, torchCell) = (ns, torchLstm);
            LoadState(torchCell, cell);
            var (h1, c1) = ns.Forward(x, (h, c));
            var (th1, tc1) = torchLstm.call(tx, (th, tc));
            check.Close("h'", h1, th1);
            check.Close("c'", c1, tc1);
            var gh = inputs.Randn(h1.Shape);
            var gc = inputs.Randn(c1.Shape);
            (Weighted(h1, gh) + Weighted(c1, gc)).Total.Backward();
            (Weighted(th1, h1.Shape, gh) + Weighted(tc1, c1.Shape, gc)).backward();
            check.Close("grad c", c.Grad, tc.grad);
        }
        else
        {
            var ns = new GRUCell(inputSize, hidden, bias, new Generator(seed));
            var torchGru = nn.GRUCell(inputSize, hidden, bias, dtype: OracleCase.OracleType);
            (cell, torchCell) = (ns, torchGru);
            LoadState(torchCell, cell);
            var h1 = ns.Forward(x, h);
            var th1 = torchGru.call(tx, th);
            check.Close("h'", h1, th1);
            var gh = inputs.Randn(h1.Shape);
            Weighted(h1, gh).Total.Backward();
            Weighted(th1, h1.Shape, gh).backward();
        }
        check.Close("grad input", x.Grad, tx.grad);
        check.Close("grad h", h.Grad, th.grad);
        CompareParameterGradients(check, cell, torchCell);
    }

    /// <summary>NormSharp's parameters into libtorch's module by name: libtorch's strict load fails on any key that differs.</summary>
    private static void LoadState(TorchSharp.torch.nn.Module torchModule, Module module)
    {
        var state = module.NamedParameters().ToDictionary(p => p.Key, p => LibTorch.From(p.Value, dtype: OracleCase.OracleType));
        torchModule.load_state_dict(state, strict: true);
    }

    private static void CompareParameterGradients(OracleCase check, Module module, TorchSharp.torch.nn.Module torchModule)
    {
        var torchParameters = torchModule.named_parameters().ToDictionary(p => p.name, p => (TorchTensor)p.parameter);
        foreach (var (name, parameter) in module.NamedParameters())
        {
            check.Close("grad " + name, parameter.Grad, torchParameters[name].grad);
        }
    }

    private static (Tensor Output, Tensor H) Outputs((Tensor Output, (Tensor H, Tensor C) State) result) => (result.Output, result.State.H);

    private static Tensor Leaf(Tensor tensor)
    {
        tensor.RequiresGrad = true;
        return tensor;
    }

    /// <summary>Σ y · g, keeping g for the libtorch side.</summary>
    private static WeightedSum Weighted(Tensor y, Tensor g) => new((y * g).Sum(), [g]);

    private static TorchTensor Weighted(TorchTensor y, int[] shape, Tensor g)
    {
        Assert.Equal(shape, LibTorch.Shape(y));
        return (y * LibTorch.From(g, dtype: OracleCase.OracleType)).sum();
    }

    private sealed record WeightedSum(Tensor Total, Tensor[] Upstreams)
    {
        public static WeightedSum operator +(WeightedSum a, WeightedSum b) => new(a.Total + b.Total, [.. a.Upstreams, .. b.Upstreams]);
    }
}
