using System.Globalization;
using NormSharp.Functional;

namespace NormSharp.Nn;

/// <summary>
/// Base of the multi-layer recurrent layers <see cref="LSTM"/> and <see cref="GRU"/> (PyTorch's <c>RNNBase</c>):
/// owns the parameters of every layer k under PyTorch's keys <c>weight_ih_l{k}</c> [G · H, I_k],
/// <c>weight_hh_l{k}</c> [G · H, H], <c>bias_ih_l{k}</c> and <c>bias_hh_l{k}</c> [G · H] (G = 4 gates for the LSTM,
/// 3 for the GRU; I_0 = inputSize, I_k = hiddenSize above), all drawn from U(−1/√H, 1/√H) as PyTorch does, and checks
/// inputs, states and lengths. Unidirectional only (PyTorch's <c>bidirectional=False</c>, <c>proj_size=0</c>).
/// </summary>
public abstract class RecurrentBase : Module
{
    private readonly Parameter[] weightsInputHidden;
    private readonly Parameter[] weightsHiddenHidden;
    private readonly Parameter?[] biasesInputHidden;
    private readonly Parameter?[] biasesHiddenHidden;
    private readonly Generator? generator;

    private protected RecurrentBase(int gateCount, int inputSize, int hiddenSize, int numLayers, bool bias, bool batchFirst, double dropout, Generator? generator)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(hiddenSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numLayers);
        F.CheckDropoutProbability(dropout);
        (InputSize, HiddenSize, NumLayers, Bias, BatchFirst, Dropout) = (inputSize, hiddenSize, numLayers, bias, batchFirst, dropout);
        this.generator = generator;
        weightsInputHidden = new Parameter[numLayers];
        weightsHiddenHidden = new Parameter[numLayers];
        biasesInputHidden = new Parameter?[numLayers];
        biasesHiddenHidden = new Parameter?[numLayers];
        int gates = gateCount * hiddenSize;
        for (int k = 0; k < numLayers; k++)
        {
            int layerInput = k == 0 ? inputSize : hiddenSize;
            string suffix = "_l" + k.ToString(CultureInfo.InvariantCulture);
            weightsInputHidden[k] = RegisterParameter("weight_ih" + suffix, new Parameter(Tensor.Zeros(gates, layerInput)))!;
            weightsHiddenHidden[k] = RegisterParameter("weight_hh" + suffix, new Parameter(Tensor.Zeros(gates, hiddenSize)))!;
            biasesInputHidden[k] = RegisterParameter("bias_ih" + suffix, bias ? new Parameter(Tensor.Zeros(gates)) : null);
            biasesHiddenHidden[k] = RegisterParameter("bias_hh" + suffix, bias ? new Parameter(Tensor.Zeros(gates)) : null);
        }
        ResetParameters(generator);
    }

    /// <summary>I, the number of features of each input step.</summary>
    public int InputSize { get; }

    /// <summary>H, the number of features of the hidden state.</summary>
    public int HiddenSize { get; }

    /// <summary>The number of stacked layers.</summary>
    public int NumLayers { get; }

    /// <summary>Whether the layers have the biases b_ih and b_hh.</summary>
    public bool Bias { get; }

    /// <summary>Input and output are (N, L, features) instead of (L, N, features); states stay (numLayers, N, H).</summary>
    public bool BatchFirst { get; }

    /// <summary>Dropout probability on the outputs of every layer but the last, in training mode.</summary>
    public double Dropout { get; }

    /// <summary>W_ih of layer <paramref name="layer"/> (<c>weight_ih_l{layer}</c>).</summary>
    public Parameter WeightIh(int layer) => weightsInputHidden[layer];

    /// <summary>W_hh of layer <paramref name="layer"/> (<c>weight_hh_l{layer}</c>).</summary>
    public Parameter WeightHh(int layer) => weightsHiddenHidden[layer];

    /// <summary>b_ih of layer <paramref name="layer"/>, or null without biases.</summary>
    public Parameter? BiasIh(int layer) => biasesInputHidden[layer];

    /// <summary>b_hh of layer <paramref name="layer"/>, or null without biases.</summary>
    public Parameter? BiasHh(int layer) => biasesHiddenHidden[layer];

    /// <summary>Re-draws every parameter from U(−1/√H, 1/√H), PyTorch's initialization.</summary>
    public void ResetParameters(Generator? generator = null)
    {
        double bound = 1 / Math.Sqrt(HiddenSize);
        foreach (var parameter in Parameters())
        {
            Init.Uniform(parameter, -bound, bound, generator);
        }
    }

    /// <summary>The output of the last layer for every step, (L, N, H) or (N, L, H) with <see cref="BatchFirst"/>; zero initial states.</summary>
    public abstract override Tensor Forward(Tensor input);

    /// <summary>The input as (L, N, I), checked; its length and batch size.</summary>
    private protected (Tensor TimeMajor, int Length, int Batch) TimeMajor(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != 3 || input.Size(2) != InputSize)
        {
            throw new ArgumentException(
                $"{GetType().Name} expected input of shape {(BatchFirst ? "(N, L, " : "(L, N, ")}{InputSize}) (batchFirst: {BatchFirst}, inputSize {InputSize}), got shape {ShapeUtil.Format(input.ShapeSpan)}.",
                nameof(input));
        }
        var timeMajor = BatchFirst ? input.Transpose(0, 1) : input;
        return (timeMajor, timeMajor.Size(0), timeMajor.Size(1));
    }

    /// <summary>The last layer's outputs (L, N, H) in the caller's layout.</summary>
    private protected Tensor FromTimeMajor(Tensor output) => BatchFirst ? output.Transpose(0, 1) : output;

    /// <summary>Throws unless <paramref name="state"/> is (numLayers, N, H).</summary>
    private protected void CheckState(Tensor state, int batch, string name)
    {
        ArgumentNullException.ThrowIfNull(state, name);
        if (state.Rank != 3 || state.Size(0) != NumLayers || state.Size(1) != batch || state.Size(2) != HiddenSize)
        {
            throw new ArgumentException(
                $"{GetType().Name} expected {name} of shape [{NumLayers}, {batch}, {HiddenSize}] (numLayers, N, H), got {ShapeUtil.Format(state.ShapeSpan)}.", name);
        }
    }

    /// <summary>Throws unless there is one length in [0, L] per sample.</summary>
    private protected void CheckLengths(int[]? lengths, int length, int batch)
    {
        if (lengths is null)
        {
            return;
        }
        if (lengths.Length != batch)
        {
            throw new ArgumentException($"{GetType().Name} expected {batch} lengths (one per sample), got {lengths.Length}.", nameof(lengths));
        }
        foreach (int l in lengths)
        {
            if (l < 0 || l > length)
            {
                throw new ArgumentOutOfRangeException(nameof(lengths), l, $"Every length must be in [0, {length}] (the padded length L).");
            }
        }
    }

    /// <summary>Dropout between layers in training mode (PyTorch applies it to every layer's output but the last).</summary>
    private protected Tensor BetweenLayers(Tensor output) =>
        Dropout > 0 && Training ? F.Dropout(output, Dropout, true, generator) : output;

    /// <inheritdoc/>
    public override string ToString() =>
        $"{GetType().Name}({InputSize}, {HiddenSize}, numLayers: {NumLayers}, bias: {Bias}, batchFirst: {BatchFirst}, dropout: {Dropout.ToString(CultureInfo.InvariantCulture)})";
}
