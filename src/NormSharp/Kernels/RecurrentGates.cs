using System.Runtime.CompilerServices;
// Fused pointwise steps of the recurrent cells, PyTorch's gate orders: LSTM (i, f, g, o), GRU (r, z, n).
// The matrix products around them are Gemm's; these kernels do everything between two products in one pass.
// Backward formulas: docs/derivations/recurrent.md.

namespace NormSharp.Kernels;

/// <summary>
/// The pointwise part of one LSTM or GRU time step over a batch of rows, forward and backward. A row n whose
/// <c>active</c> entry is 0 (a sequence that has already ended) carries its state unchanged: its new state is its
/// previous state, its saved gates are 0 and its gate gradients are 0, so the state gradient passes through it.
/// An empty <c>active</c> means every row is active.
/// </summary>
internal static class RecurrentGates
{
    private static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));

    /// <summary>
    /// LSTM step: with the pre-activations (i, f, g, o) of <paramref name="gates"/>, i = σ, f = σ, g = tanh, o = σ;
    /// c = f · cPrevious + i · g; h = o · tanh(c). The activated gates overwrite <paramref name="gates"/> (the backward reads them).
    /// </summary>
    // gates: [batch, 4 · hidden] in: pre-activations, out: activations; cellPrevious, hiddenPrevious, cell, hidden: [batch, hidden]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void LstmForward(
        Span<float> gates, ReadOnlySpan<float> cellPrevious, ReadOnlySpan<float> hiddenPrevious, ReadOnlySpan<byte> active,
        int batch, int hidden, Span<float> cell, Span<float> hiddenOut)
    {
        for (int n = 0; n < batch; n++)
        {
            var row = gates.Slice(n * 4 * hidden, 4 * hidden);
            int s = n * hidden;
            if (!active.IsEmpty && active[n] == 0)
            {
                row.Clear();
                cellPrevious.Slice(s, hidden).CopyTo(cell.Slice(s, hidden));
                hiddenPrevious.Slice(s, hidden).CopyTo(hiddenOut.Slice(s, hidden));
                continue;
            }
            for (int j = 0; j < hidden; j++)
            {
                float i = Sigmoid(row[j]);
                float f = Sigmoid(row[hidden + j]);
                float g = MathF.Tanh(row[2 * hidden + j]);
                float o = Sigmoid(row[3 * hidden + j]);
                (row[j], row[hidden + j], row[2 * hidden + j], row[3 * hidden + j]) = (i, f, g, o);
                float c = f * cellPrevious[s + j] + i * g;
                cell[s + j] = c;
                hiddenOut[s + j] = o * MathF.Tanh(c);
            }
        }
    }

    /// <summary>
    /// LSTM step backward. In: <paramref name="gradHidden"/> = ∂L/∂h and <paramref name="gradCell"/> = ∂L/∂c from later
    /// steps. Out: <paramref name="gradGates"/> = ∂L/∂(pre-activations) and <paramref name="gradCell"/> = ∂L/∂cPrevious
    /// (the part through c = f · cPrevious + ...). With t = tanh(c): dc = gradCell + gradHidden · o · (1 − t²);
    /// di = dc · g · i(1 − i); df = dc · cPrevious · f(1 − f); dg = dc · i · (1 − g²); do = gradHidden · t · o(1 − o);
    /// dcPrevious = dc · f. Inactive rows get zero gate gradients and keep gradCell.
    /// </summary>
    // gates (activated), gradGates: [batch, 4 · hidden]; cellPrevious, cell, gradHidden, gradCell: [batch, hidden]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void LstmBackward(
        ReadOnlySpan<float> gates, ReadOnlySpan<float> cellPrevious, ReadOnlySpan<float> cell, ReadOnlySpan<float> gradHidden,
        ReadOnlySpan<byte> active, int batch, int hidden, Span<float> gradCell, Span<float> gradGates)
    {
        for (int n = 0; n < batch; n++)
        {
            var row = gates.Slice(n * 4 * hidden, 4 * hidden);
            var gradRow = gradGates.Slice(n * 4 * hidden, 4 * hidden);
            if (!active.IsEmpty && active[n] == 0)
            {
                gradRow.Clear();
                continue;
            }
            int s = n * hidden;
            for (int j = 0; j < hidden; j++)
            {
                float i = row[j], f = row[hidden + j], g = row[2 * hidden + j], o = row[3 * hidden + j];
                float t = MathF.Tanh(cell[s + j]);
                float dh = gradHidden[s + j];
                float dc = gradCell[s + j] + dh * o * (1 - t * t);
                gradRow[j] = dc * g * i * (1 - i);
                gradRow[hidden + j] = dc * cellPrevious[s + j] * f * (1 - f);
                gradRow[2 * hidden + j] = dc * i * (1 - g * g);
                gradRow[3 * hidden + j] = dh * t * o * (1 - o);
                gradCell[s + j] = dc * f;
            }
        }
    }

    /// <summary>
    /// GRU step: r = σ(xr + hr), z = σ(xz + hz), n = tanh(xn + r · hn), h = (1 − z) · n + z · hPrevious, where
    /// (xr, xz, xn) = W_ih · x + b_ih is <paramref name="inputGates"/> and (hr, hz, hn) = W_hh · hPrevious + b_hh is
    /// <paramref name="hiddenGates"/>. (r, z, n) overwrite <paramref name="inputGates"/>; hn stays in <paramref name="hiddenGates"/>.
    /// </summary>
    // inputGates, hiddenGates: [batch, 3 · hidden]; hiddenPrevious, hiddenOut: [batch, hidden]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GruForward(
        Span<float> inputGates, ReadOnlySpan<float> hiddenGates, ReadOnlySpan<float> hiddenPrevious, ReadOnlySpan<byte> active,
        int batch, int hidden, Span<float> hiddenOut)
    {
        for (int n = 0; n < batch; n++)
        {
            var row = inputGates.Slice(n * 3 * hidden, 3 * hidden);
            var hiddenRow = hiddenGates.Slice(n * 3 * hidden, 3 * hidden);
            int s = n * hidden;
            if (!active.IsEmpty && active[n] == 0)
            {
                row.Clear();
                hiddenPrevious.Slice(s, hidden).CopyTo(hiddenOut.Slice(s, hidden));
                continue;
            }
            for (int j = 0; j < hidden; j++)
            {
                float r = Sigmoid(row[j] + hiddenRow[j]);
                float z = Sigmoid(row[hidden + j] + hiddenRow[hidden + j]);
                float candidate = MathF.Tanh(row[2 * hidden + j] + r * hiddenRow[2 * hidden + j]);
                (row[j], row[hidden + j], row[2 * hidden + j]) = (r, z, candidate);
                hiddenOut[s + j] = (1 - z) * candidate + z * hiddenPrevious[s + j];
            }
        }
    }

    /// <summary>
    /// GRU step backward. In: <paramref name="gradHidden"/> = ∂L/∂h. Out: gradients of the two pre-activation blocks and
    /// the direct part of ∂L/∂hPrevious (z · dh; the part through W_hh is the caller's product):
    /// dz = dh · (hPrevious − n) · z(1 − z); dn = dh · (1 − z) · (1 − n²); dr = dn · hn · r(1 − r);
    /// gradInputGates = (dr, dz, dn), gradHiddenGates = (dr, dz, dn · r). Inactive rows: zero gate gradients, dhPrevious = dh.
    /// </summary>
    // gates (r, z, n), hiddenGates, gradInputGates, gradHiddenGates: [batch, 3 · hidden]; hiddenPrevious, gradHidden, gradHiddenPrevious: [batch, hidden]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GruBackward(
        ReadOnlySpan<float> gates, ReadOnlySpan<float> hiddenGates, ReadOnlySpan<float> hiddenPrevious, ReadOnlySpan<float> gradHidden,
        ReadOnlySpan<byte> active, int batch, int hidden,
        Span<float> gradInputGates, Span<float> gradHiddenGates, Span<float> gradHiddenPrevious)
    {
        for (int n = 0; n < batch; n++)
        {
            int g3 = n * 3 * hidden, s = n * hidden;
            if (!active.IsEmpty && active[n] == 0)
            {
                gradInputGates.Slice(g3, 3 * hidden).Clear();
                gradHiddenGates.Slice(g3, 3 * hidden).Clear();
                gradHidden.Slice(s, hidden).CopyTo(gradHiddenPrevious.Slice(s, hidden));
                continue;
            }
            for (int j = 0; j < hidden; j++)
            {
                float r = gates[g3 + j], z = gates[g3 + hidden + j], candidate = gates[g3 + 2 * hidden + j];
                float dh = gradHidden[s + j];
                float dz = dh * (hiddenPrevious[s + j] - candidate) * z * (1 - z);
                float dn = dh * (1 - z) * (1 - candidate * candidate);
                float dr = dn * hiddenGates[g3 + 2 * hidden + j] * r * (1 - r);
                gradInputGates[g3 + j] = dr;
                gradInputGates[g3 + hidden + j] = dz;
                gradInputGates[g3 + 2 * hidden + j] = dn;
                gradHiddenGates[g3 + j] = dr;
                gradHiddenGates[g3 + hidden + j] = dz;
                gradHiddenGates[g3 + 2 * hidden + j] = dn * r;
                gradHiddenPrevious[s + j] = dh * z;
            }
        }
    }

    /// <summary>
    /// The cell half of an LSTM step, for cells that normalize c before the output gate (BN-LSTM, LN-LSTM):
    /// c = σ(f) · cPrevious + σ(i) · tanh(g) from the pre-activations (i, f, g, o) in <paramref name="gates"/>.
    /// </summary>
    // gates: [batch, 4 · hidden]; cellPrevious, cell: [batch, hidden]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void CellForward(ReadOnlySpan<float> gates, ReadOnlySpan<float> cellPrevious, int batch, int hidden, Span<float> cell)
    {
        for (int n = 0; n < batch; n++)
        {
            var row = gates.Slice(n * 4 * hidden, 4 * hidden);
            int s = n * hidden;
            for (int j = 0; j < hidden; j++)
            {
                cell[s + j] = Sigmoid(row[hidden + j]) * cellPrevious[s + j] + Sigmoid(row[j]) * MathF.Tanh(row[2 * hidden + j]);
            }
        }
    }

    /// <summary>
    /// Backward of <see cref="CellForward"/>: the (i, f, g) columns of <paramref name="gradGates"/> get
    /// dc · tanh(g) · σ'(i), dc · cPrevious · σ'(f), dc · σ(i) · (1 − tanh²(g)), the o column 0; dcPrevious = dc · σ(f).
    /// </summary>
    // gates, gradGates: [batch, 4 · hidden]; cellPrevious, gradCell, gradCellPrevious: [batch, hidden]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void CellBackward(
        ReadOnlySpan<float> gates, ReadOnlySpan<float> cellPrevious, ReadOnlySpan<float> gradCell, int batch, int hidden,
        Span<float> gradGates, Span<float> gradCellPrevious)
    {
        for (int n = 0; n < batch; n++)
        {
            var row = gates.Slice(n * 4 * hidden, 4 * hidden);
            var gradRow = gradGates.Slice(n * 4 * hidden, 4 * hidden);
            int s = n * hidden;
            for (int j = 0; j < hidden; j++)
            {
                float i = Sigmoid(row[j]), f = Sigmoid(row[hidden + j]), g = MathF.Tanh(row[2 * hidden + j]);
                float dc = gradCell[s + j];
                gradRow[j] = dc * g * i * (1 - i);
                gradRow[hidden + j] = dc * cellPrevious[s + j] * f * (1 - f);
                gradRow[2 * hidden + j] = dc * i * (1 - g * g);
                gradRow[3 * hidden + j] = 0f;
                gradCellPrevious[s + j] = dc * f;
            }
        }
    }

    /// <summary>The output half of a normalized LSTM step: h = σ(o) · tanh(cellNormalized), o from <paramref name="gates"/>.</summary>
    // gates: [batch, 4 · hidden]; cellNormalized, hiddenOut: [batch, hidden]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void OutputForward(ReadOnlySpan<float> gates, ReadOnlySpan<float> cellNormalized, int batch, int hidden, Span<float> hiddenOut)
    {
        for (int n = 0; n < batch; n++)
        {
            var o = gates.Slice(n * 4 * hidden + 3 * hidden, hidden);
            int s = n * hidden;
            for (int j = 0; j < hidden; j++)
            {
                hiddenOut[s + j] = Sigmoid(o[j]) * MathF.Tanh(cellNormalized[s + j]);
            }
        }
    }

    /// <summary>
    /// Backward of <see cref="OutputForward"/>: the o column of <paramref name="gradGates"/> gets dh · tanh(cn) · σ'(o),
    /// the others 0; dcn = dh · σ(o) · (1 − tanh²(cn)).
    /// </summary>
    // gates, gradGates: [batch, 4 · hidden]; cellNormalized, gradHidden, gradCellNormalized: [batch, hidden]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void OutputBackward(
        ReadOnlySpan<float> gates, ReadOnlySpan<float> cellNormalized, ReadOnlySpan<float> gradHidden, int batch, int hidden,
        Span<float> gradGates, Span<float> gradCellNormalized)
    {
        for (int n = 0; n < batch; n++)
        {
            var gradRow = gradGates.Slice(n * 4 * hidden, 4 * hidden);
            gradRow[..(3 * hidden)].Clear();
            int s = n * hidden;
            for (int j = 0; j < hidden; j++)
            {
                float o = Sigmoid(gates[n * 4 * hidden + 3 * hidden + j]);
                float t = MathF.Tanh(cellNormalized[s + j]);
                float dh = gradHidden[s + j];
                gradRow[3 * hidden + j] = dh * t * o * (1 - o);
                gradCellNormalized[s + j] = dh * o * (1 - t * t);
            }
        }
    }
}
