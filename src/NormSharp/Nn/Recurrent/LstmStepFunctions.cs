using NormSharp.Autograd;
using NormSharp.Kernels;

namespace NormSharp.Nn;

/// <summary>
/// The two halves of an LSTM step whose cell is normalized before the output gate (BN-LSTM, LN-LSTM), each one fused
/// autograd op: <see cref="Cell"/> c = σ(f) ⊙ cPrevious + σ(i) ⊙ tanh(g), and <see cref="Output"/> h = σ(o) ⊙ tanh(cn),
/// with the pre-activations (i, f, g, o) of PyTorch's gate order as one [N, 4H] tensor.
/// </summary>
internal static class LstmStepFunctions
{
    /// <summary>c [N, H] from gates [N, 4H] and cPrevious [N, H].</summary>
    public static Tensor Cell(Tensor gates, Tensor cellPrevious) => new CellFunction().Forward(gates, cellPrevious);

    /// <summary>h [N, H] from gates [N, 4H] and the normalized cell [N, H].</summary>
    public static Tensor Output(Tensor gates, Tensor cellNormalized) => new OutputFunction().Forward(gates, cellNormalized);

    private sealed class CellFunction : Function
    {
        public Tensor Forward(Tensor gates, Tensor cellPrevious)
        {
            int batch = cellPrevious.Size(0), hidden = cellPrevious.Size(1);
            var cell = Tensor.Uninitialized(batch, hidden);
            RecurrentGates.CellForward(gates.Data, cellPrevious.Data, batch, hidden, cell.AsSpan());
            SaveForBackward(gates, cellPrevious);
            return Record(cell, gates, cellPrevious);
        }

        public override Tensor?[] Backward(Tensor gradOutput)
        {
            var gates = SavedTensors[0];
            var cellPrevious = SavedTensors[1];
            int batch = cellPrevious.Size(0), hidden = cellPrevious.Size(1);
            var gradGates = Tensor.Uninitialized(batch, 4 * hidden);
            var gradCellPrevious = Tensor.Uninitialized(batch, hidden);
            RecurrentGates.CellBackward(gates.Data, cellPrevious.Data, gradOutput.Data, batch, hidden, gradGates.AsSpan(), gradCellPrevious.AsSpan());
            return [gradGates, gradCellPrevious];
        }
    }

    private sealed class OutputFunction : Function
    {
        public Tensor Forward(Tensor gates, Tensor cellNormalized)
        {
            int batch = cellNormalized.Size(0), hidden = cellNormalized.Size(1);
            var output = Tensor.Uninitialized(batch, hidden);
            RecurrentGates.OutputForward(gates.Data, cellNormalized.Data, batch, hidden, output.AsSpan());
            SaveForBackward(gates, cellNormalized);
            return Record(output, gates, cellNormalized);
        }

        public override Tensor?[] Backward(Tensor gradOutput)
        {
            var gates = SavedTensors[0];
            var cellNormalized = SavedTensors[1];
            int batch = cellNormalized.Size(0), hidden = cellNormalized.Size(1);
            var gradGates = Tensor.Uninitialized(batch, 4 * hidden);
            var gradCell = Tensor.Uninitialized(batch, hidden);
            RecurrentGates.OutputBackward(gates.Data, cellNormalized.Data, gradOutput.Data, batch, hidden, gradGates.AsSpan(), gradCell.AsSpan());
            return [gradGates, gradCell];
        }
    }
}
