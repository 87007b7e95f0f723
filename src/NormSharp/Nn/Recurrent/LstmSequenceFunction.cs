using NormSharp.Autograd;
using NormSharp.Kernels;

namespace NormSharp.Nn;

/// <summary>
/// One LSTM layer over a whole sequence as one autograd op (what cuDNN's RNN call is to PyTorch): inputs
/// (x, h0, c0, W_ih, W_hh, b_ih?, b_hh?), output [L + 2, N, H] holding the L hidden states, then h_L and c_L.
/// </summary>
/// <remarks>
/// Forward: the input projections of all time steps in one GEMM, x [L · N, I] · W_ihᵀ + b_ih + b_hh; then per step
/// one GEMM h_{t−1} · W_hhᵀ added to them and the fused gate kernel (<see cref="RecurrentGates.LstmForward"/>).
/// Backward through time: per step the fused gate backward and one GEMM for ∂L/∂h_{t−1}; then one GEMM each for
/// ∂L/∂x, ∂L/∂W_ih and ∂L/∂W_hh over all steps. With lengths, sample n is active for t &lt; lengths[n]: after that
/// its state is carried unchanged (so h_L, c_L are its last real state) and its outputs are 0, as PyTorch's packed
/// sequences give after <c>pad_packed_sequence</c>.
/// </remarks>
internal sealed class LstmSequenceFunction : Function
{
    private float[] gates = [];    // [L, N, 4H] activated (i, f, g, o)
    private float[] hiddens = [];  // [L + 1, N, H]: h0, h1 ... hL
    private float[] cells = [];    // [L + 1, N, H]
    private byte[] active = [];    // [L, N] or empty (every step active)
    private Tensor input = null!, weightInputHidden = null!, weightHiddenHidden = null!;
    private bool hasBias;
    private int length, batch, inputSize, hidden;

    public override string Name => "LSTM";

    // input: [L, N, I]; hidden0, cell0: [N, H]; weightIh: [4H, I]; weightHh: [4H, H]; biases: [4H] or null
    public Tensor Forward(
        Tensor input, Tensor hidden0, Tensor cell0, Tensor weightIh, Tensor weightHh, Tensor? biasIh, Tensor? biasHh, byte[] active)
    {
        (this.input, weightInputHidden, weightHiddenHidden, this.active) = (input, weightIh, weightHh, active);
        (length, batch, inputSize) = (input.Size(0), input.Size(1), input.Size(2));
        hidden = weightHh.Size(1);
        hasBias = biasIh is not null;
        int gateWidth = 4 * hidden, rows = length * batch, step = batch * hidden;
        gates = new float[rows * gateWidth];
        if (hasBias)
        {
            // Both biases start every row; the GEMM adds x · W_ihᵀ.
            var sum = new float[gateWidth];
            for (int j = 0; j < gateWidth; j++)
            {
                sum[j] = biasIh!.Data[j] + biasHh!.Data[j];
            }
            for (int r = 0; r < rows; r++)
            {
                sum.CopyTo(gates, r * gateWidth);
            }
        }
        Gemm.Multiply(input.Data, weightIh.Data, rows, gateWidth, inputSize, false, true, hasBias, gates);
        hiddens = new float[(length + 1) * step];
        cells = new float[(length + 1) * step];
        hidden0.Data.CopyTo(hiddens);
        cell0.Data.CopyTo(cells);
        for (int t = 0; t < length; t++)
        {
            var stepGates = gates.AsSpan(t * batch * gateWidth, batch * gateWidth);
            // gates_t += h_{t−1} [N, H] · W_hhᵀ [H, 4H]
            Gemm.Multiply(hiddens.AsSpan(t * step, step), weightHh.Data, batch, gateWidth, hidden, false, true, true, stepGates);
            RecurrentGates.LstmForward(
                stepGates, cells.AsSpan(t * step, step), hiddens.AsSpan(t * step, step), Active(t), batch, hidden,
                cells.AsSpan((t + 1) * step, step), hiddens.AsSpan((t + 1) * step, step));
        }
        var output = Tensor.Uninitialized(length + 2, batch, hidden);
        var y = output.AsSpan();
        SequenceSteps.CopyOutputs(hiddens, active, length, batch, hidden, y);
        hiddens.AsSpan(length * step, step).CopyTo(y.Slice(length * step, step));
        cells.AsSpan(length * step, step).CopyTo(y.Slice((length + 1) * step, step));
        Tensor[] inputs = hasBias ? [input, hidden0, cell0, weightIh, weightHh, biasIh!, biasHh!] : [input, hidden0, cell0, weightIh, weightHh];
        return Record(output, inputs);
    }

    private ReadOnlySpan<byte> Active(int t) => active.Length == 0 ? default : active.AsSpan(t * batch, batch);

    public override Tensor?[] Backward(Tensor gradOutput)
    {
        int gateWidth = 4 * hidden, rows = length * batch, step = batch * hidden;
        var dy = gradOutput.Data;
        var gradHidden = dy.Slice(length * step, step).ToArray();
        var gradCell = dy.Slice((length + 1) * step, step).ToArray();
        var gradHiddenPrevious = new float[step];
        var gradGates = new float[rows * gateWidth];
        for (int t = length - 1; t >= 0; t--)
        {
            SequenceSteps.AddOutputGradient(dy.Slice(t * step, step), Active(t), batch, hidden, gradHidden);
            var stepGradGates = gradGates.AsSpan(t * batch * gateWidth, batch * gateWidth);
            RecurrentGates.LstmBackward(
                gates.AsSpan(t * batch * gateWidth, batch * gateWidth), cells.AsSpan(t * step, step), cells.AsSpan((t + 1) * step, step),
                gradHidden, Active(t), batch, hidden, gradCell, stepGradGates);
            // ∂L/∂h_{t−1} = gradGates_t [N, 4H] · W_hh [4H, H]; a finished row carries its gradient instead.
            Gemm.Multiply(stepGradGates, weightHiddenHidden.Data, batch, hidden, gateWidth, false, false, false, gradHiddenPrevious);
            SequenceSteps.CarryInactive(gradHidden, Active(t), batch, hidden, gradHiddenPrevious);
            (gradHidden, gradHiddenPrevious) = (gradHiddenPrevious, gradHidden);
        }
        var gradients = new Tensor?[Inputs.Count];
        if (NeedsInputGrad[0])
        {
            // ∂L/∂x [L · N, I] = gradGates [L · N, 4H] · W_ih [4H, I]
            var gradInput = Tensor.Uninitialized(length, batch, inputSize);
            Gemm.Multiply(gradGates, weightInputHidden.Data, rows, inputSize, gateWidth, false, false, false, gradInput.AsSpan());
            gradients[0] = gradInput;
        }
        gradients[1] = NeedsInputGrad[1] ? Tensor.FromArray(gradHidden, batch, hidden) : null;
        gradients[2] = NeedsInputGrad[2] ? Tensor.FromArray(gradCell, batch, hidden) : null;
        if (NeedsInputGrad[3])
        {
            // ∂L/∂W_ih [4H, I] = gradGatesᵀ [4H, L · N] · x [L · N, I]
            var gradWeight = Tensor.Uninitialized(gateWidth, inputSize);
            Gemm.Multiply(gradGates, input.Data, gateWidth, inputSize, rows, true, false, false, gradWeight.AsSpan());
            gradients[3] = gradWeight;
        }
        if (NeedsInputGrad[4])
        {
            // ∂L/∂W_hh [4H, H] = gradGatesᵀ [4H, L · N] · h_{0..L−1} [L · N, H]
            var gradWeight = Tensor.Uninitialized(gateWidth, hidden);
            Gemm.Multiply(gradGates, hiddens.AsSpan(0, rows * hidden), gateWidth, hidden, rows, true, false, false, gradWeight.AsSpan());
            gradients[4] = gradWeight;
        }
        if (hasBias && (NeedsInputGrad[5] || NeedsInputGrad[6]))
        {
            var gradBias = SequenceSteps.ColumnSums(gradGates, rows, gateWidth);
            gradients[5] = NeedsInputGrad[5] ? gradBias : null;
            gradients[6] = NeedsInputGrad[6] ? gradBias.Clone() : null;
        }
        return gradients;
    }
}
