using NormSharp.Nn;

namespace NormSharp.Tests;

/// <summary>
/// LSTM, GRU and the cells without libtorch (their values are checked against it in NormSharp.Oracle): gradient
/// checks with random upstream gradients through every output, state-dict keys, lengths and masks, dropout between
/// layers, and typed errors naming the shapes.
/// </summary>
public class RecurrentTests
{
    [Theory]
    [InlineData(true, 1, false, false)]
    [InlineData(true, 2, true, true)]
    [InlineData(false, 1, true, false)]
    [InlineData(false, 2, false, true)]
    public void Gradients_through_time_match_finite_differences(bool lstm, int layers, bool withLengths, bool batchFirst)
    {
        const int length = 4, batch = 3, inputSize = 2, hidden = 3;
        RecurrentBase layer = lstm
            ? new LSTM(inputSize, hidden, layers, batchFirst: batchFirst, generator: new Generator(1))
            : new GRU(inputSize, hidden, layers, batchFirst: batchFirst, generator: new Generator(1));
        int[]? lengths = withLengths ? [4, 1, 3] : null;
        var x = GradCheck.RandomLeaf(2, batchFirst ? [batch, length, inputSize] : [length, batch, inputSize]);
        var h0 = GradCheck.RandomLeaf(3, layers, batch, hidden);
        var c0 = GradCheck.RandomLeaf(4, layers, batch, hidden);
        Tensor[] leaves = lstm ? [x, h0, c0, .. layer.Parameters()] : [x, h0, .. layer.Parameters()];
        GradCheck.Check(t =>
        {
            if (layer is LSTM l)
            {
                var (output, (h, c)) = l.Forward(t[0], (t[1], t[2]), lengths);
                return Projected(output, h, c);
            }
            var (gruOutput, gruH) = ((GRU)layer).Forward(t[0], t[1], lengths);
            return Projected(gruOutput, gruH);
        }, leaves, seed: 5);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Cell_gradients_match_finite_differences(bool lstm)
    {
        var x = GradCheck.RandomLeaf(10, 2, 3);
        var h = GradCheck.RandomLeaf(11, 2, 4);
        var c = GradCheck.RandomLeaf(12, 2, 4);
        if (lstm)
        {
            var cell = new LSTMCell(3, 4, generator: new Generator(13));
            GradCheck.Check(t => Projected(cell.Forward(t[0], (t[1], t[2])).H, cell.Forward(t[0], (t[1], t[2])).C), [x, h, c, .. cell.Parameters()], seed: 14);
        }
        else
        {
            var cell = new GRUCell(3, 4, generator: new Generator(13));
            GradCheck.Check(t => Projected(cell.Forward(t[0], t[1])), [x, h, .. cell.Parameters()], seed: 14);
        }
    }

    [Fact]
    public void State_dict_keys_are_PyTorch_s()
    {
        var lstm = new LSTM(5, 7, numLayers: 2);
        Assert.Equal(
            ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"],
            lstm.StateDict().Keys);
        Assert.Equal([28, 5], lstm.StateDict()["weight_ih_l0"].Shape);
        Assert.Equal([28, 7], lstm.StateDict()["weight_ih_l1"].Shape);
        Assert.Equal([21, 7], new GRU(5, 7).StateDict()["weight_hh_l0"].Shape);
        Assert.Equal(["weight_ih_l0", "weight_hh_l0"], new GRU(5, 7, bias: false).StateDict().Keys);
        Assert.Equal(["weight_ih", "weight_hh", "bias_ih", "bias_hh"], new LSTMCell(5, 7).StateDict().Keys);
        Assert.Equal([21], new GRUCell(5, 7).StateDict()["bias_hh"].Shape);
        // U(−1/√H, 1/√H), as PyTorch.
        Assert.All(lstm.Parameters().SelectMany(p => p.ToArray()), v => Assert.InRange(v, -1 / MathF.Sqrt(7), 1 / MathF.Sqrt(7)));
    }

    [Fact]
    public void Lengths_and_mask_agree_and_a_full_length_equals_no_lengths()
    {
        var lstm = new LSTM(3, 4, batchFirst: true, generator: new Generator(20));
        var x = Tensor.Randn(new Generator(21), 3, 5, 3);
        int[] lengths = [5, 2, 3];
        var mask = SequenceMask.FromLengths(lengths, 5);
        Assert.Equal(lengths, SequenceMask.Lengths(mask));
        var full = lstm.Forward(x, null, [5, 5, 5]);
        Assert.Equal(lstm.Forward(x).ToArray(), full.Output.ToArray());
        // Sample 1 cut to 2 steps ends in the state a 2-step sequence ends in.
        var cut = lstm.Forward(x, null, lengths);
        var alone = lstm.Forward(x[1].Slice(0, 2).Reshape(1, 2, 3), null);
        Assert.Equal(alone.State.H.ToArray(), cut.State.H.ToArray().AsSpan(4, 4).ToArray());
        Assert.Equal(alone.State.C.ToArray(), cut.State.C.ToArray().AsSpan(4, 4).ToArray());
        Assert.Throws<ArgumentException>(() => SequenceMask.Lengths(Tensor.FromArray([1f, 0f, 1f], 1, 3)));
    }

    [Fact]
    public void Dropout_between_layers_acts_only_in_training()
    {
        var lstm = new LSTM(3, 8, numLayers: 2, dropout: 0.5, generator: new Generator(30));
        var twin = new LSTM(3, 8, numLayers: 2, generator: new Generator(30));
        var x = Tensor.Randn(new Generator(31), 4, 2, 3);
        Assert.NotEqual(twin.Forward(x).ToArray(), lstm.Forward(x).ToArray());
        lstm.Eval();
        Assert.Equal(twin.Forward(x).ToArray(), lstm.Forward(x).ToArray());
    }

    [Fact]
    public void Bad_input_throws_naming_the_shapes()
    {
        var lstm = new LSTM(3, 4, numLayers: 2);
        var inputError = Assert.Throws<ArgumentException>(() => lstm.Forward(Tensor.Zeros(5, 2, 6)));
        Assert.Contains("(L, N, 3)", inputError.Message, StringComparison.Ordinal);
        Assert.Contains("[5, 2, 6]", inputError.Message, StringComparison.Ordinal);
        var rankError = Assert.Throws<ArgumentException>(() => new GRU(3, 4, batchFirst: true).Forward(Tensor.Zeros(5, 3)));
        Assert.Contains("(N, L, 3)", rankError.Message, StringComparison.Ordinal);
        var stateError = Assert.Throws<ArgumentException>(() => lstm.Forward(Tensor.Zeros(5, 2, 3), (Tensor.Zeros(1, 2, 4), Tensor.Zeros(2, 2, 4))));
        Assert.Contains("[2, 2, 4]", stateError.Message, StringComparison.Ordinal);
        Assert.Contains("[1, 2, 4]", stateError.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new GRU(3, 4).Forward(Tensor.Zeros(5, 2, 3), Tensor.Zeros(1, 3, 4)));
        Assert.Throws<ArgumentException>(() => lstm.Forward(Tensor.Zeros(5, 2, 3), null, [5]));
        Assert.Throws<ArgumentOutOfRangeException>(() => lstm.Forward(Tensor.Zeros(5, 2, 3), null, [6, 1]));
        var cellError = Assert.Throws<ArgumentException>(() => new LSTMCell(3, 4).Forward(Tensor.Zeros(2, 3), (Tensor.Zeros(2, 4), Tensor.Zeros(2, 5))));
        Assert.Contains("[2, 5]", cellError.Message, StringComparison.Ordinal);
        var cellInputError = Assert.Throws<ArgumentException>(() => new GRUCell(3, 4).Forward(Tensor.Zeros(2, 7)));
        Assert.Contains("(N, 3)", cellInputError.Message, StringComparison.Ordinal);
    }

    /// <summary>Σ over the parts of Σ part · w with fixed random w: one scalar that a random upstream gradient scales.</summary>
    internal static Tensor Projected(params Tensor[] parts)
    {
        var generator = new Generator(99);
        Tensor? total = null;
        foreach (var part in parts)
        {
            var term = (part * Tensor.Randn(generator, part.Shape)).Sum();
            total = total is null ? term : total + term;
        }
        return total!.Reshape(1);
    }
}
