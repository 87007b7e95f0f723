using NormSharp.Autograd;
using NormSharp.Kernels;

namespace NormSharp.Nn;

/// <summary>
/// One GRU layer over a whole sequence as one autograd op: inputs (x, h0, W_ih, W_hh, b_ih?, b_hh?), output
/// [L + 1, N, H] holding the L hidden states, then h_L.
/// </summary>
/// <remarks>
/// Forward: the input projections of all steps in one GEMM, x [L · N, I] · W_ihᵀ + b_ih; per step one GEMM
/// h_{t−1} · W_hhᵀ + b_hh (kept apart: n = tanh(W_in x + b_in + r · (W_hn h + b_hn)), PyTorch's form) and the fused
/// gate kernel (<see cref="RecurrentGates.GruForward"/>). Backward through time as <see cref="LstmSequenceFunction"/>,
/// with the same handling of lengths.
/// </remarks>
internal sealed class GruSequenceFunction : Function
{
    private float[] inputGates = [];   // [L, N, 3H]: activated (r, z, n)
    private float[] hiddenGates = [];  // [L, N, 3H]: W_hh · h_{t−1} + b_hh
    private float[] hiddens = [];      // [L + 1, N, H]
    private byte[] active = [];        // [L, N] or empty
    private Tensor input = null!, weightInputHidden = null!, weightHiddenHidden = null!;
    private bool hasBias;
    private int length, batch, inputSize, hidden;

    public override string Name => "GRU";

    // input: [L, N, I]; hidden0: [N, H]; weightIh: [3H, I]; weightHh: [3H, H]; biases: [3H] or null
    public Tensor Forward(Tensor input, Tensor hidden0, Tensor weightIh, Tensor weightHh, Tensor? biasIh, Tensor? biasHh, byte[] active)
    {
        (this.input, weightInputHidden, weightHiddenHidden, this.active) = (input, weightIh, weightHh, active);
        (length, batch, inputSize) = (input.Size(0), input.Size(1), input.Size(2));
        hidden = weightHh.Size(1);
        hasBias = biasIh is not null;
        int gateWidth = 3 * hidden, rows = length * batch, step = batch * hidden;
        inputGates = new float[rows * gateWidth];
        hiddenGates = new float[rows * gateWidth];
        if (hasBias)
        {
            for (int r = 0; r < rows; r++)
            {
                biasIh!.Data.CopyTo(inputGates.AsSpan(r * gateWidth, gateWidth));
                biasHh!.Data.CopyTo(hiddenGates.AsSpan(r * gateWidth, gateWidth));
            }
        }
        Gemm.Multiply(input.Data, weightIh.Data, rows, gateWidth, inputSize, false, true, hasBias, inputGates);
        hiddens = new float[(length + 1) * step];
        hidden0.Data.CopyTo(hiddens);
        for (int t = 0; t < length; t++)
        {
            var stepHiddenGates = hiddenGates.AsSpan(t * batch * gateWidth, batch * gateWidth);
            // hiddenGates_t (+)= h_{t−1} [N, H] · W_hhᵀ [H, 3H]
            Gemm.Multiply(hiddens.AsSpan(t * step, step), weightHh.Data, batch, gateWidth, hidden, false, true, hasBias, stepHiddenGates);
            RecurrentGates.GruForward(
                inputGates.AsSpan(t * batch * gateWidth, batch * gateWidth), stepHiddenGates, hiddens.AsSpan(t * step, step),
                Active(t), batch, hidden, hiddens.AsSpan((t + 1) * step, step));
        }
        var output = Tensor.Uninitialized(length + 1, batch, hidden);
        var y = output.AsSpan();
        SequenceSteps.CopyOutputs(hiddens, active, length, batch, hidden, y);
        hiddens.AsSpan(length * step, step).CopyTo(y.Slice(length * step, step));
        Tensor[] inputs = hasBias ? [input, hidden0, weightIh, weightHh, biasIh!, biasHh!] : [input, hidden0, weightIh, weightHh];
        return Record(output, inputs);
    }

    private ReadOnlySpan<byte> Active(int t) => active.Length == 0 ? default : active.AsSpan(t * batch, batch);

    public override Tensor?[] Backward(Tensor gradOutput)
    {
        int gateWidth = 3 * hidden, rows = length * batch, step = batch * hidden;
        var dy = gradOutput.Data;
        var gradHidden = dy.Slice(length * step, step).ToArray();
        var gradHiddenPrevious = new float[step];
        var gradInputGates = new float[rows * gateWidth];
        var gradHiddenGates = new float[rows * gateWidth];
        for (int t = length - 1; t >= 0; t--)
        {
            SequenceSteps.AddOutputGradient(dy.Slice(t * step, step), Active(t), batch, hidden, gradHidden);
            var stepGradHiddenGates = gradHiddenGates.AsSpan(t * batch * gateWidth, batch * gateWidth);
            RecurrentGates.GruBackward(
                inputGates.AsSpan(t * batch * gateWidth, batch * gateWidth), hiddenGates.AsSpan(t * batch * gateWidth, batch * gateWidth),
                hiddens.AsSpan(t * step, step), gradHidden, Active(t), batch, hidden,
                gradInputGates.AsSpan(t * batch * gateWidth, batch * gateWidth), stepGradHiddenGates, gradHiddenPrevious);
            // ∂L/∂h_{t−1} += gradHiddenGates_t [N, 3H] · W_hh [3H, H] (zero rows for finished sequences)
            Gemm.Multiply(stepGradHiddenGates, weightHiddenHidden.Data, batch, hidden, gateWidth, false, false, true, gradHiddenPrevious);
            (gradHidden, gradHiddenPrevious) = (gradHiddenPrevious, gradHidden);
        }
        var gradients = new Tensor?[Inputs.Count];
        if (NeedsInputGrad[0])
        {
            var gradInput = Tensor.Uninitialized(length, batch, inputSize);
            Gemm.Multiply(gradInputGates, weightInputHidden.Data, rows, inputSize, gateWidth, false, false, false, gradInput.AsSpan());
            gradients[0] = gradInput;
        }
        gradients[1] = NeedsInputGrad[1] ? Tensor.FromArray(gradHidden, batch, hidden) : null;
        if (NeedsInputGrad[2])
        {
            var gradWeight = Tensor.Uninitialized(gateWidth, inputSize);
            Gemm.Multiply(gradInputGates, input.Data, gateWidth, inputSize, rows, true, false, false, gradWeight.AsSpan());
            gradients[2] = gradWeight;
        }
        if (NeedsInputGrad[3])
        {
            var gradWeight = Tensor.Uninitialized(gateWidth, hidden);
            Gemm.Multiply(gradHiddenGates, hiddens.AsSpan(0, rows * hidden), gateWidth, hidden, rows, true, false, false, gradWeight.AsSpan());
            gradients[3] = gradWeight;
        }
        if (hasBias)
        {
            gradients[4] = NeedsInputGrad[4] ? SequenceSteps.ColumnSums(gradInputGates, rows, gateWidth) : null;
            gradients[5] = NeedsInputGrad[5] ? SequenceSteps.ColumnSums(gradHiddenGates, rows, gateWidth) : null;
        }
        return gradients;
    }
}
