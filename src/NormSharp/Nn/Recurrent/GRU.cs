namespace NormSharp.Nn;

/// <summary>
/// Multi-layer gated recurrent unit (PyTorch's <c>nn.GRU</c>). Per layer and step, with PyTorch's gate order (r, z, n)
/// in the rows of W_ih [3H, I] and W_hh [3H, H]:
/// r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(W_iz x + b_iz + W_hz h + b_hz),
/// n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = (1 − z) ⊙ n + z ⊙ h.
/// </summary>
/// <remarks>
/// Shapes, parameters, dropout, lengths and speed as <see cref="LSTM"/>, with one state h (numLayers, N, H).
/// </remarks>
/// <param name="inputSize">I, features per input step.</param>
/// <param name="hiddenSize">H, features of the hidden state.</param>
/// <param name="numLayers">Stacked layers (default 1).</param>
/// <param name="bias">Whether to learn b_ih and b_hh (default true).</param>
/// <param name="batchFirst">Input and output batch-first (default false, time first).</param>
/// <param name="dropout">Dropout between layers (default 0).</param>
/// <param name="generator">Source of the initial parameters and of the dropout masks; default <see cref="Init.DefaultGenerator"/>.</param>
public sealed class GRU(int inputSize, int hiddenSize, int numLayers = 1, bool bias = true, bool batchFirst = false, double dropout = 0, Generator? generator = null)
    : RecurrentBase(3, inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, generator)
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Forward(input, null).Output;

    /// <summary>The outputs and the final state h_n, from an initial state h_0 or zeros.</summary>
    /// <param name="input">(L, N, I), or (N, L, I) with <see cref="RecurrentBase.BatchFirst"/>.</param>
    /// <param name="h0">(numLayers, N, H); null for zeros.</param>
    /// <param name="lengths">The length of each sample's sequence, in [0, L]; null when all have L steps.</param>
    /// <exception cref="ArgumentException">Input not 3-D or with another feature size than inputSize, a state of the
    /// wrong shape, or lengths not one per sample in [0, L].</exception>
    public (Tensor Output, Tensor H) Forward(Tensor input, Tensor? h0, int[]? lengths = null)
    {
        var (x, length, batch) = TimeMajor(input);
        if (h0 is not null)
        {
            CheckState(h0, batch, "h0");
        }
        CheckLengths(lengths, length, batch);
        var active = SequenceSteps.ActiveSteps(lengths, length, batch);
        var hiddens = new List<Tensor>();
        for (int k = 0; k < NumLayers; k++)
        {
            var all = new GruSequenceFunction().Forward(
                x, h0?[k] ?? Tensor.Zeros(batch, HiddenSize), WeightIh(k), WeightHh(k), BiasIh(k), BiasHh(k), active);
            hiddens.Add(all[length]);
            x = all.Slice(0, length);
            if (k < NumLayers - 1)
            {
                x = BetweenLayers(x);
            }
        }
        return (FromTimeMajor(x), SequenceSteps.Stack(hiddens));
    }
}
