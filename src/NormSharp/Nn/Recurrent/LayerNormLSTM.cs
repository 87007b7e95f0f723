using NormSharp.Functional;

namespace NormSharp.Nn;

/// <summary>
/// The layer-normalized LSTM of Ba, Kiros and Hinton (2016), "Layer Normalization", §3.1: per step t,
/// gates = LN_h(W_hh h_{t−1}; α_h, β_h) + LN_x(W_ih x_t; α_x, β_x) + b, c_t = σ(f) ⊙ c_{t−1} + σ(i) ⊙ tanh(g),
/// h_t = σ(o) ⊙ tanh(LN_c(c_t; α_c, β_c)), gate order (i, f, g, o) as PyTorch's LSTM.
/// </summary>
/// <remarks>
/// Each LN normalizes one sample's whole vector (all 4H gate pre-activations together, or the H cell values), with its
/// own gain (ones) and bias (zeros): children <c>ln_ih</c>, <c>ln_hh</c>, <c>ln_c</c> (<see cref="LayerNorm"/>). No
/// batch statistics: it trains with any batch size, and a step behaves the same at any time index and in evaluation.
/// Shapes, states and the other parameters: <see cref="NormalizedLSTMBase"/>.
/// </remarks>
public sealed class LayerNormLSTM : NormalizedLSTMBase
{
    /// <summary>Creates the layer.</summary>
    /// <param name="inputSize">I.</param>
    /// <param name="hiddenSize">H.</param>
    /// <param name="batchFirst">Input and output (N, L, features).</param>
    /// <param name="eps">Layer norm's eps (default 1e-5).</param>
    /// <param name="generator">Source of W_ih and W_hh; default <see cref="Init.DefaultGenerator"/>.</param>
    public LayerNormLSTM(int inputSize, int hiddenSize, bool batchFirst = false, double eps = 1e-5, Generator? generator = null)
        : base(inputSize, hiddenSize, batchFirst, generator)
    {
        InputNorm = RegisterModule("ln_ih", new LayerNorm([4 * hiddenSize], eps));
        HiddenNorm = RegisterModule("ln_hh", new LayerNorm([4 * hiddenSize], eps));
        CellNorm = RegisterModule("ln_c", new LayerNorm([hiddenSize], eps));
    }

    /// <summary>LN_x of W_ih x_t, child <c>ln_ih</c>.</summary>
    public LayerNorm InputNorm { get; }

    /// <summary>LN_h of W_hh h_{t−1}, child <c>ln_hh</c>.</summary>
    public LayerNorm HiddenNorm { get; }

    /// <summary>LN_c of the cell, child <c>ln_c</c>.</summary>
    public LayerNorm CellNorm { get; }

    private protected override Tensor NormalizeInput(Tensor projection, int step) => InputNorm.Forward(projection);

    private protected override Tensor NormalizeHidden(Tensor projection, int step) => HiddenNorm.Forward(projection);

    private protected override Tensor NormalizeCell(Tensor cell, int step) => CellNorm.Forward(cell);

    /// <inheritdoc/>
    public override string ToString() => $"LayerNormLSTM({InputSize}, {HiddenSize}, batchFirst: {BatchFirst})";
}
