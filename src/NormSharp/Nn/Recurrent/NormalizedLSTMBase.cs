using NormSharp.Functional;

namespace NormSharp.Nn;

/// <summary>
/// A one-layer LSTM whose two gate projections and whose cell are normalized (the common frame of
/// <see cref="BatchNormLSTM"/> and <see cref="LayerNormLSTM"/>). Per step t, with PyTorch's gate order (i, f, g, o):
/// gates = N_h(W_hh h_{t−1}) + N_x(W_ih x_t) + b; c_t = σ(f) ⊙ c_{t−1} + σ(i) ⊙ tanh(g); h_t = σ(o) ⊙ tanh(N_c(c_t)).
/// </summary>
/// <remarks>
/// Shapes: input (L, N, I) or (N, L, I) with batchFirst; output (L, N, H) or (N, L, H); states h and c (N, H).
/// Parameters <c>weight_ih</c> [4H, I], <c>weight_hh</c> [4H, H] from U(−1/√H, 1/√H) as PyTorch's LSTM, and one bias
/// <c>bias</c> [4H] (zeros): the normalizations remove any bias inside the projections. Equal-length sequences only.
/// Autograd runs through the steps op by op (two GEMMs, the normalizations and two fused gate ops per step).
/// </remarks>
public abstract class NormalizedLSTMBase : Module
{
    private protected NormalizedLSTMBase(int inputSize, int hiddenSize, bool batchFirst, Generator? generator)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hiddenSize);
        (InputSize, HiddenSize, BatchFirst) = (inputSize, hiddenSize, batchFirst);
        double bound = 1 / Math.Sqrt(hiddenSize);
        WeightIh = RegisterParameter("weight_ih", new Parameter(Tensor.Zeros(4 * hiddenSize, inputSize)))!;
        WeightHh = RegisterParameter("weight_hh", new Parameter(Tensor.Zeros(4 * hiddenSize, hiddenSize)))!;
        Bias = RegisterParameter("bias", new Parameter(Tensor.Zeros(4 * hiddenSize)))!;
        Init.Uniform(WeightIh, -bound, bound, generator);
        Init.Uniform(WeightHh, -bound, bound, generator);
    }

    /// <summary>I.</summary>
    public int InputSize { get; }

    /// <summary>H.</summary>
    public int HiddenSize { get; }

    /// <summary>Input and output are (N, L, features).</summary>
    public bool BatchFirst { get; }

    /// <summary>W_ih [4H, I].</summary>
    public Parameter WeightIh { get; }

    /// <summary>W_hh [4H, H].</summary>
    public Parameter WeightHh { get; }

    /// <summary>b [4H], added after the normalizations.</summary>
    public Parameter Bias { get; }

    /// <summary>N_x at step t: the normalization of W_ih x_t, [N, 4H].</summary>
    private protected abstract Tensor NormalizeInput(Tensor projection, int step);

    /// <summary>N_h at step t: the normalization of W_hh h_{t−1}, [N, 4H].</summary>
    private protected abstract Tensor NormalizeHidden(Tensor projection, int step);

    /// <summary>N_c at step t: the normalization of c_t, [N, H].</summary>
    private protected abstract Tensor NormalizeCell(Tensor cell, int step);

    /// <summary>The hidden state at every step, from zero states.</summary>
    public override Tensor Forward(Tensor input) => Forward(input, null).Output;

    /// <summary>The outputs and the final (h, c), from (h_0, c_0) [N, H] each, or zeros.</summary>
    /// <exception cref="ArgumentException">Input not 3-D with inputSize features, or a state not (N, H).</exception>
    public (Tensor Output, (Tensor H, Tensor C) State) Forward(Tensor input, (Tensor H, Tensor C)? state)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != 3 || input.Size(2) != InputSize)
        {
            throw new ArgumentException(
                $"{GetType().Name} expected input of shape {(BatchFirst ? "(N, L, " : "(L, N, ")}{InputSize}) (batchFirst: {BatchFirst}), got shape {ShapeUtil.Format(input.ShapeSpan)}.", nameof(input));
        }
        var x = BatchFirst ? input.Transpose(0, 1) : input;
        int length = x.Size(0), batch = x.Size(1);
        var h = state?.H ?? Tensor.Zeros(batch, HiddenSize);
        var c = state?.C ?? Tensor.Zeros(batch, HiddenSize);
        RecurrentCellBase.CheckState(this, h, batch, HiddenSize, "h0");
        RecurrentCellBase.CheckState(this, c, batch, HiddenSize, "c0");
        var outputs = new List<Tensor>();
        for (int t = 0; t < length; t++)
        {
            var gates = NormalizeHidden(F.Linear(h, WeightHh), t) + NormalizeInput(F.Linear(x[t], WeightIh), t) + Bias;
            c = LstmStepFunctions.Cell(gates, c);
            h = LstmStepFunctions.Output(gates, NormalizeCell(c, t));
            outputs.Add(h);
        }
        var output = SequenceSteps.Stack(outputs);
        return (BatchFirst ? output.Transpose(0, 1) : output, (h, c));
    }
}
