namespace NormSharp.Nn;

/// <summary>
/// One GRU step (PyTorch's <c>nn.GRUCell</c>): the equations of <see cref="GRU"/> for a single time step,
/// n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = (1 − z) ⊙ n + z ⊙ h, gate order (r, z, n).
/// </summary>
/// <remarks>Shapes: input (N, I); h (N, H). Parameters (G = 3): <see cref="RecurrentCellBase"/>.</remarks>
/// <param name="inputSize">I.</param>
/// <param name="hiddenSize">H.</param>
/// <param name="bias">Whether to learn b_ih and b_hh (default true).</param>
/// <param name="generator">Source of the initial parameters; default <see cref="Init.DefaultGenerator"/>.</param>
public sealed class GRUCell(int inputSize, int hiddenSize, bool bias = true, Generator? generator = null)
    : RecurrentCellBase(3, inputSize, hiddenSize, bias, generator)
{
    /// <summary>h' from a zero state.</summary>
    public override Tensor Forward(Tensor input) => Forward(input, null);

    /// <summary>h' from h, or from zeros when <paramref name="h"/> is null.</summary>
    /// <exception cref="ArgumentException">Input not (N, I), or h not (N, H).</exception>
    public Tensor Forward(Tensor input, Tensor? h)
    {
        int batch = CheckInput(input);
        h ??= Tensor.Zeros(batch, HiddenSize);
        CheckState(this, h, batch, HiddenSize, "h");
        // The sequence op over one step: output rows [h_1, h_1].
        var all = new GruSequenceFunction().Forward(input.Reshape(1, batch, InputSize), h, WeightIh, WeightHh, BiasIh, BiasHh, []);
        return all[1];
    }
}
