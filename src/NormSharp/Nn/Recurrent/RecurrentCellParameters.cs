namespace NormSharp.Nn;

/// <summary>Parameters and argument checks shared by <see cref="LSTMCell"/> and <see cref="GRUCell"/>.</summary>
internal static class RecurrentCellParameters
{
    /// <summary>Registers weight_ih [G · H, I], weight_hh [G · H, H], bias_ih and bias_hh [G · H] (or null), drawn from U(−1/√H, 1/√H).</summary>
    public static (Parameter WeightIh, Parameter WeightHh, Parameter? BiasIh, Parameter? BiasHh) Register(
        Module cell, Func<string, Parameter?, Parameter?> register, int gateCount, int inputSize, int hiddenSize, bool bias, Generator? generator)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hiddenSize);
        int gates = gateCount * hiddenSize;
        var weightIh = register("weight_ih", new Parameter(Tensor.Zeros(gates, inputSize)))!;
        var weightHh = register("weight_hh", new Parameter(Tensor.Zeros(gates, hiddenSize)))!;
        var biasIh = register("bias_ih", bias ? new Parameter(Tensor.Zeros(gates)) : null);
        var biasHh = register("bias_hh", bias ? new Parameter(Tensor.Zeros(gates)) : null);
        double bound = 1 / Math.Sqrt(hiddenSize);
        foreach (var parameter in cell.Parameters())
        {
            Init.Uniform(parameter, -bound, bound, generator);
        }
        return (weightIh, weightHh, biasIh, biasHh);
    }

    /// <summary>The batch size of an (N, I) input; throws otherwise.</summary>
    public static int CheckInput(Module cell, Tensor input, int inputSize)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != 2 || input.Size(1) != inputSize)
        {
            throw new ArgumentException($"{cell.GetType().Name} expected input of shape (N, {inputSize}), got {ShapeUtil.Format(input.ShapeSpan)}.", nameof(input));
        }
        return input.Size(0);
    }

    /// <summary>Throws unless a state is (N, H).</summary>
    public static void CheckState(Module cell, Tensor state, int batch, int hiddenSize, string name)
    {
        if (state.Rank != 2 || state.Size(0) != batch || state.Size(1) != hiddenSize)
        {
            throw new ArgumentException($"{cell.GetType().Name} expected {name} of shape [{batch}, {hiddenSize}] (N, H), got {ShapeUtil.Format(state.ShapeSpan)}.", name);
        }
    }
}
