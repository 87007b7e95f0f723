namespace NormSharp.Nn;

/// <summary>
/// Multi-layer long short-term memory (PyTorch's <c>nn.LSTM</c>). Per layer and step, with PyTorch's gate order
/// (i, f, g, o) in the rows of W_ih [4H, I] and W_hh [4H, H]:
/// i = σ(W_ii x + b_ii + W_hi h + b_hi), f = σ(W_if x + b_if + W_hf h + b_hf), g = tanh(W_ig x + b_ig + W_hg h + b_hg),
/// o = σ(W_io x + b_io + W_ho h + b_ho), c' = f ⊙ c + i ⊙ g, h' = o ⊙ tanh(c').
/// </summary>
/// <remarks>
/// <para>Shapes: input (L, N, I), or (N, L, I) with batchFirst; output (L, N, H) or (N, L, H): the last layer's h at every
/// step; states h and c (numLayers, N, H) in both layouts, zeros when not given. Parameters and state-dict keys:
/// <see cref="RecurrentBase"/>. Dropout (default 0) applies to every layer's output but the last, in training.</para>
/// <para>Variable lengths (PyTorch's PackedSequence): pass <c>lengths</c> (or <see cref="SequenceMask.Lengths"/> of a
/// mask); sample n then stops after lengths[n] steps: its outputs beyond are 0 and its final states are those of its last
/// real step, exactly what PyTorch gives for a packed batch.</para>
/// <para>Each layer runs as one op: one GEMM for the input projections of all steps, one GEMM and a fused gate kernel per
/// step, backward through time in closed form.</para>
/// </remarks>
/// <param name="inputSize">I, features per input step.</param>
/// <param name="hiddenSize">H, features of the hidden state.</param>
/// <param name="numLayers">Stacked layers (default 1).</param>
/// <param name="bias">Whether to learn b_ih and b_hh (default true).</param>
/// <param name="batchFirst">Input and output batch-first (default false, time first).</param>
/// <param name="dropout">Dropout between layers (default 0).</param>
/// <param name="generator">Source of the initial parameters and of the dropout masks; default <see cref="Init.DefaultGenerator"/>.</param>
public sealed class LSTM(int inputSize, int hiddenSize, int numLayers = 1, bool bias = true, bool batchFirst = false, double dropout = 0, Generator? generator = null)
    : RecurrentBase(4, inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, generator)
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Forward(input, null).Output;

    /// <summary>The outputs and the final states (h_n, c_n), from initial states (h_0, c_0) or zeros.</summary>
    /// <param name="input">(L, N, I), or (N, L, I) with <see cref="RecurrentBase.BatchFirst"/>.</param>
    /// <param name="state">(h_0, c_0), each (numLayers, N, H); null for zeros.</param>
    /// <param name="lengths">The length of each sample's sequence, in [0, L]; null when all have L steps.</param>
    /// <exception cref="ArgumentException">Input not 3-D or with another feature size than inputSize, states of the
    /// wrong shape, or lengths not one per sample in [0, L].</exception>
    public (Tensor Output, (Tensor H, Tensor C) State) Forward(Tensor input, (Tensor H, Tensor C)? state, int[]? lengths = null)
    {
        var (x, length, batch) = TimeMajor(input);
        if (state is var (h0, c0))
        {
            CheckState(h0, batch, "h0");
            CheckState(c0, batch, "c0");
        }
        CheckLengths(lengths, length, batch);
        var active = SequenceSteps.ActiveSteps(lengths, length, batch);
        var hiddens = new List<Tensor>();
        var cells = new List<Tensor>();
        for (int k = 0; k < NumLayers; k++)
        {
            var all = new LstmSequenceFunction().Forward(
                x, state?.H[k] ?? Tensor.Zeros(batch, HiddenSize), state?.C[k] ?? Tensor.Zeros(batch, HiddenSize),
                WeightIh(k), WeightHh(k), BiasIh(k), BiasHh(k), active);
            hiddens.Add(all[length]);
            cells.Add(all[length + 1]);
            x = all.Slice(0, length);
            if (k < NumLayers - 1)
            {
                x = BetweenLayers(x);
            }
        }
        return (FromTimeMajor(x), (SequenceSteps.Stack(hiddens), SequenceSteps.Stack(cells)));
    }
}
