namespace NormSharp.Nn;

/// <summary>
/// Base of <see cref="LSTMCell"/> and <see cref="GRUCell"/> (PyTorch's <c>RNNCellBase</c>): the parameters
/// <c>weight_ih</c> [G · H, I], <c>weight_hh</c> [G · H, H], <c>bias_ih</c> and <c>bias_hh</c> [G · H] (G = 4 gates for the
/// LSTM, 3 for the GRU), all drawn from U(−1/√H, 1/√H) as PyTorch does, and the checks of inputs and states.
/// </summary>
public abstract class RecurrentCellBase : Module
{
    private protected RecurrentCellBase(int gateCount, int inputSize, int hiddenSize, bool bias, Generator? generator)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hiddenSize);
        (InputSize, HiddenSize) = (inputSize, hiddenSize);
        int gates = gateCount * hiddenSize;
        WeightIh = RegisterParameter("weight_ih", new Parameter(Tensor.Zeros(gates, inputSize)))!;
        WeightHh = RegisterParameter("weight_hh", new Parameter(Tensor.Zeros(gates, hiddenSize)))!;
        BiasIh = RegisterParameter("bias_ih", bias ? new Parameter(Tensor.Zeros(gates)) : null);
        BiasHh = RegisterParameter("bias_hh", bias ? new Parameter(Tensor.Zeros(gates)) : null);
        double bound = 1 / Math.Sqrt(hiddenSize);
        foreach (var parameter in Parameters())
        {
            Init.Uniform(parameter, -bound, bound, generator);
        }
    }

    /// <summary>I, features of the input.</summary>
    public int InputSize { get; }

    /// <summary>H, features of the state.</summary>
    public int HiddenSize { get; }

    /// <summary>W_ih [G · H, I] (<c>weight_ih</c>).</summary>
    public Parameter WeightIh { get; }

    /// <summary>W_hh [G · H, H] (<c>weight_hh</c>).</summary>
    public Parameter WeightHh { get; }

    /// <summary>b_ih [G · H] (<c>bias_ih</c>), or null.</summary>
    public Parameter? BiasIh { get; }

    /// <summary>b_hh [G · H] (<c>bias_hh</c>), or null.</summary>
    public Parameter? BiasHh { get; }

    /// <summary>The batch size of an (N, I) input; throws otherwise.</summary>
    private protected int CheckInput(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != 2 || input.Size(1) != InputSize)
        {
            throw new ArgumentException($"{GetType().Name} expected input of shape (N, {InputSize}), got {ShapeUtil.Format(input.ShapeSpan)}.", nameof(input));
        }
        return input.Size(0);
    }

    /// <summary>Throws unless <paramref name="state"/> is (N, H) (used by the normalized LSTMs too).</summary>
    internal static void CheckState(Module cell, Tensor state, int batch, int hiddenSize, string name)
    {
        if (state.Rank != 2 || state.Size(0) != batch || state.Size(1) != hiddenSize)
        {
            throw new ArgumentException($"{cell.GetType().Name} expected {name} of shape [{batch}, {hiddenSize}] (N, H), got {ShapeUtil.Format(state.ShapeSpan)}.", name);
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"{GetType().Name}({InputSize}, {HiddenSize}, bias: {BiasIh is not null})";
}
