namespace NormSharp.Nn;

/// <summary>
/// The batch-normalized LSTM of Cooijmans et al. (2016), "Recurrent Batch Normalization": per step t,
/// gates = BN_h(W_hh h_{t−1}; γ_h) + BN_x(W_ih x_t; γ_x) + b, c_t = σ(f) ⊙ c_{t−1} + σ(i) ⊙ tanh(g),
/// h_t = σ(o) ⊙ tanh(BN_c(c_t; γ_c, β_c)), gate order (i, f, g, o) as PyTorch's LSTM.
/// </summary>
/// <remarks>
/// <para>Each BN keeps separate statistics per time step up to maxLength (T_max) and shares γ, β over
/// time (<see cref="TimeStepBatchNorm"/>): children <c>bn_ih</c>, <c>bn_hh</c> (γ only: their β would duplicate b) and
/// <c>bn_c</c>; γ starts at 0.1, as in the paper. Steps at or beyond T_max use the statistics of step T_max − 1.
/// Shapes, states and the other parameters: <see cref="NormalizedLSTMBase"/>.</para>
/// <para>Training needs more than one sample per batch (batch statistics); evaluation uses the running statistics.</para>
/// </remarks>
public sealed class BatchNormLSTM : NormalizedLSTMBase
{
    /// <summary>Creates the layer.</summary>
    /// <param name="inputSize">I.</param>
    /// <param name="hiddenSize">H.</param>
    /// <param name="maxLength">T_max, the number of steps with their own statistics.</param>
    /// <param name="batchFirst">Input and output (N, L, features).</param>
    /// <param name="eps">Batch norm's eps (default 1e-5).</param>
    /// <param name="momentum">Batch norm's momentum, PyTorch's convention (default 0.1).</param>
    /// <param name="generator">Source of W_ih and W_hh; default <see cref="Init.DefaultGenerator"/>.</param>
    public BatchNormLSTM(int inputSize, int hiddenSize, int maxLength, bool batchFirst = false, double eps = 1e-5, double momentum = 0.1, Generator? generator = null)
        : base(inputSize, hiddenSize, batchFirst, generator)
    {
        InputNorm = RegisterModule("bn_ih", new TimeStepBatchNorm(4 * hiddenSize, maxLength, eps, momentum, center: false));
        HiddenNorm = RegisterModule("bn_hh", new TimeStepBatchNorm(4 * hiddenSize, maxLength, eps, momentum, center: false));
        CellNorm = RegisterModule("bn_c", new TimeStepBatchNorm(hiddenSize, maxLength, eps, momentum));
    }

    /// <summary>BN_x of W_ih x_t (γ only), child <c>bn_ih</c>.</summary>
    public TimeStepBatchNorm InputNorm { get; }

    /// <summary>BN_h of W_hh h_{t−1} (γ only), child <c>bn_hh</c>.</summary>
    public TimeStepBatchNorm HiddenNorm { get; }

    /// <summary>BN_c of the cell (γ and β), child <c>bn_c</c>.</summary>
    public TimeStepBatchNorm CellNorm { get; }

    private protected override Tensor NormalizeInput(Tensor projection, int step) => InputNorm.Forward(projection, step);

    private protected override Tensor NormalizeHidden(Tensor projection, int step) => HiddenNorm.Forward(projection, step);

    private protected override Tensor NormalizeCell(Tensor cell, int step) => CellNorm.Forward(cell, step);

    /// <inheritdoc/>
    public override string ToString() => $"BatchNormLSTM({InputSize}, {HiddenSize}, maxLength: {InputNorm.MaxLength}, batchFirst: {BatchFirst})";
}
