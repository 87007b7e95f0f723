namespace NormSharp.Nn;

/// <summary>
/// One GRU step (PyTorch's <c>nn.GRUCell</c>): the equations of <see cref="GRU"/> for a single time step,
/// n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = (1 − z) ⊙ n + z ⊙ h, gate order (r, z, n).
/// </summary>
/// <remarks>Shapes: input (N, I); h (N, H). Parameters <c>weight_ih</c> [3H, I], <c>weight_hh</c> [3H, H],
/// <c>bias_ih</c>, <c>bias_hh</c> [3H], from U(−1/√H, 1/√H) as PyTorch.</remarks>
public sealed class GRUCell : Module
{
    /// <summary>Creates the cell; parameters are drawn from <paramref name="generator"/> or <see cref="Init.DefaultGenerator"/>.</summary>
    public GRUCell(int inputSize, int hiddenSize, bool bias = true, Generator? generator = null)
    {
        (InputSize, HiddenSize) = (inputSize, hiddenSize);
        (WeightIh, WeightHh, BiasIh, BiasHh) = RecurrentCellParameters.Register(this, RegisterParameter, 3, inputSize, hiddenSize, bias, generator);
    }

    /// <summary>I, features of the input.</summary>
    public int InputSize { get; }

    /// <summary>H, features of the state.</summary>
    public int HiddenSize { get; }

    /// <summary>W_ih [3H, I] (<c>weight_ih</c>).</summary>
    public Parameter WeightIh { get; }

    /// <summary>W_hh [3H, H] (<c>weight_hh</c>).</summary>
    public Parameter WeightHh { get; }

    /// <summary>b_ih [3H] (<c>bias_ih</c>), or null.</summary>
    public Parameter? BiasIh { get; }

    /// <summary>b_hh [3H] (<c>bias_hh</c>), or null.</summary>
    public Parameter? BiasHh { get; }

    /// <summary>h' from a zero state.</summary>
    public override Tensor Forward(Tensor input) => Forward(input, null);

    /// <summary>h' from h, or from zeros when <paramref name="h"/> is null.</summary>
    /// <exception cref="ArgumentException">Input not (N, I), or h not (N, H).</exception>
    public Tensor Forward(Tensor input, Tensor? h)
    {
        int batch = RecurrentCellParameters.CheckInput(this, input, InputSize);
        h ??= Tensor.Zeros(batch, HiddenSize);
        RecurrentCellParameters.CheckState(this, h, batch, HiddenSize, "h");
        var all = new GruSequenceFunction().Forward(input.Reshape(1, batch, InputSize), h, WeightIh, WeightHh, BiasIh, BiasHh, []);
        return all[1];
    }

    /// <inheritdoc/>
    public override string ToString() => $"GRUCell({InputSize}, {HiddenSize}, bias: {BiasIh is not null})";
}
