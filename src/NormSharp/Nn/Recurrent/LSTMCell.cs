namespace NormSharp.Nn;

/// <summary>
/// One LSTM step (PyTorch's <c>nn.LSTMCell</c>): the equations of <see cref="LSTM"/> for a single time step,
/// c' = f ⊙ c + i ⊙ g, h' = o ⊙ tanh(c'), gate order (i, f, g, o).
/// </summary>
/// <remarks>Shapes: input (N, I); h and c (N, H). Parameters (G = 4): <see cref="RecurrentCellBase"/>.</remarks>
/// <param name="inputSize">I.</param>
/// <param name="hiddenSize">H.</param>
/// <param name="bias">Whether to learn b_ih and b_hh (default true).</param>
/// <param name="generator">Source of the initial parameters; default <see cref="Init.DefaultGenerator"/>.</param>
public sealed class LSTMCell(int inputSize, int hiddenSize, bool bias = true, Generator? generator = null)
    : RecurrentCellBase(4, inputSize, hiddenSize, bias, generator)
{
    /// <summary>h' from zero states.</summary>
    public override Tensor Forward(Tensor input) => Forward(input, null).H;

    /// <summary>(h', c') from (h, c), or from zeros when <paramref name="state"/> is null.</summary>
    /// <exception cref="ArgumentException">Input not (N, I), or h or c not (N, H).</exception>
    public (Tensor H, Tensor C) Forward(Tensor input, (Tensor H, Tensor C)? state)
    {
        int batch = CheckInput(input);
        var h = state?.H ?? Tensor.Zeros(batch, HiddenSize);
        var c = state?.C ?? Tensor.Zeros(batch, HiddenSize);
        CheckState(this, h, batch, HiddenSize, "h");
        CheckState(this, c, batch, HiddenSize, "c");
        // The sequence op over one step: output rows [h_1, h_1, c_1].
        var all = new LstmSequenceFunction().Forward(input.Reshape(1, batch, InputSize), h, c, WeightIh, WeightHh, BiasIh, BiasHh, []);
        return (all[1], all[2]);
    }
}
