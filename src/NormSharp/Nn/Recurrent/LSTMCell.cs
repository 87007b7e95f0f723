namespace NormSharp.Nn;

/// <summary>
/// One LSTM step (PyTorch's <c>nn.LSTMCell</c>): the equations of <see cref="LSTM"/> for a single time step,
/// c' = f ⊙ c + i ⊙ g, h' = o ⊙ tanh(c'), gate order (i, f, g, o).
/// </summary>
/// <remarks>Shapes: input (N, I); h and c (N, H). Parameters <c>weight_ih</c> [4H, I], <c>weight_hh</c> [4H, H],
/// <c>bias_ih</c>, <c>bias_hh</c> [4H], from U(−1/√H, 1/√H) as PyTorch.</remarks>
public sealed class LSTMCell : Module
{
    /// <summary>Creates the cell; parameters are drawn from <paramref name="generator"/> or <see cref="Init.DefaultGenerator"/>.</summary>
    public LSTMCell(int inputSize, int hiddenSize, bool bias = true, Generator? generator = null)
    {
        (InputSize, HiddenSize) = (inputSize, hiddenSize);
        (WeightIh, WeightHh, BiasIh, BiasHh) = RecurrentCellParameters.Register(this, RegisterParameter, 4, inputSize, hiddenSize, bias, generator);
    }

    /// <summary>I, features of the input.</summary>
    public int InputSize { get; }

    /// <summary>H, features of the state.</summary>
    public int HiddenSize { get; }

    /// <summary>W_ih [4H, I] (<c>weight_ih</c>).</summary>
    public Parameter WeightIh { get; }

    /// <summary>W_hh [4H, H] (<c>weight_hh</c>).</summary>
    public Parameter WeightHh { get; }

    /// <summary>b_ih [4H] (<c>bias_ih</c>), or null.</summary>
    public Parameter? BiasIh { get; }

    /// <summary>b_hh [4H] (<c>bias_hh</c>), or null.</summary>
    public Parameter? BiasHh { get; }

    /// <summary>h' from zero states.</summary>
    public override Tensor Forward(Tensor input) => Forward(input, null).H;

    /// <summary>(h', c') from (h, c), or from zeros when <paramref name="state"/> is null.</summary>
    /// <exception cref="ArgumentException">Input not (N, I), or h or c not (N, H).</exception>
    public (Tensor H, Tensor C) Forward(Tensor input, (Tensor H, Tensor C)? state)
    {
        int batch = RecurrentCellParameters.CheckInput(this, input, InputSize);
        var h = state?.H ?? Tensor.Zeros(batch, HiddenSize);
        var c = state?.C ?? Tensor.Zeros(batch, HiddenSize);
        RecurrentCellParameters.CheckState(this, h, batch, HiddenSize, "h");
        RecurrentCellParameters.CheckState(this, c, batch, HiddenSize, "c");
        var all = new LstmSequenceFunction().Forward(input.Reshape(1, batch, InputSize), h, c, WeightIh, WeightHh, BiasIh, BiasHh, []);
        return (all[1], all[2]);
    }

    /// <inheritdoc/>
    public override string ToString() => $"LSTMCell({InputSize}, {HiddenSize}, bias: {BiasIh is not null})";
}
