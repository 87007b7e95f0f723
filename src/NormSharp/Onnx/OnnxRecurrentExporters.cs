using NormSharp.Nn;
using static NormSharp.Onnx.OnnxGraphBuilder;

namespace NormSharp.Onnx;

/// <summary>
/// ONNX nodes for the multi-layer recurrent layers <see cref="LSTM"/> and <see cref="GRU"/> (unidirectional, zero
/// initial states): one ONNX LSTM or GRU node per layer on time-major input (L, N, features), each followed by a
/// Squeeze of its num_directions axis; batch-first input and output are transposed around the stack.
/// </summary>
/// <remarks>
/// PyTorch stacks the gates of W_ih, W_hh and the biases as LSTM (i, f, g, o) and GRU (r, z, n); ONNX wants LSTM
/// (i, o, f, c) and GRU (z, r, h), so the gate blocks of H rows are reordered. ONNX's B is b_ih then b_hh. PyTorch's
/// GRU applies the reset gate after the hidden-hidden product, n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), which
/// is ONNX's linear_before_reset = 1.
/// </remarks>
internal static class OnnxRecurrentExporters
{
    /// <summary>PyTorch's gate block that goes at each ONNX gate position: LSTM (i, o, f, c) from (i, f, g, o).</summary>
    private static readonly int[] LstmGateOrder = [0, 3, 1, 2];

    /// <summary>GRU (z, r, h) from PyTorch's (r, z, n).</summary>
    private static readonly int[] GruGateOrder = [1, 0, 2];

    /// <summary>LSTM: ONNX LSTM nodes, one per layer.</summary>
    public static string Lstm(OnnxGraphBuilder graph, Module module, string path, string input, Tensor inputValue, Tensor outputValue) =>
        Recurrent(graph, (RecurrentBase)module, path, input, "LSTM", LstmGateOrder);

    /// <summary>GRU: ONNX GRU nodes (linear_before_reset = 1), one per layer.</summary>
    public static string Gru(OnnxGraphBuilder graph, Module module, string path, string input, Tensor inputValue, Tensor outputValue) =>
        Recurrent(graph, (RecurrentBase)module, path, input, "GRU", GruGateOrder);

    private static string Recurrent(OnnxGraphBuilder graph, RecurrentBase recurrent, string path, string input, string opType, int[] gateOrder)
    {
        int hidden = recurrent.HiddenSize;
        int gates = gateOrder.Length * hidden;
        var sequence = recurrent.BatchFirst ? graph.Add("Transpose", path, [input], Ints("perm", 1, 0, 2)) : input;
        // Y is (L, num_directions = 1, N, H): squeezing axis 1 gives the next layer's (L, N, H) input.
        var directionAxis = graph.Int64Constant($"{path}.direction_axis", 1);
        for (int layer = 0; layer < recurrent.NumLayers; layer++)
        {
            string suffix = $"_l{layer}";
            int layerInput = layer == 0 ? recurrent.InputSize : hidden;
            var weight = graph.Constant($"{path}.weight_ih{suffix}", Reorder(recurrent.WeightIh(layer).AsSpan(), gateOrder), 1, gates, layerInput);
            var recurrence = graph.Constant($"{path}.weight_hh{suffix}", Reorder(recurrent.WeightHh(layer).AsSpan(), gateOrder), 1, gates, hidden);
            string[] inputs = [sequence, weight, recurrence];
            if (recurrent.BiasIh(layer) is { } biasIh && recurrent.BiasHh(layer) is { } biasHh)
            {
                float[] bias = [.. Reorder(biasIh.AsSpan(), gateOrder), .. Reorder(biasHh.AsSpan(), gateOrder)];
                inputs = [.. inputs, graph.Constant($"{path}.bias{suffix}", bias, 1, 2 * gates)];
            }
            var attributes = opType == "GRU"
                ? new[] { Int("hidden_size", hidden), Int("linear_before_reset", 1) }
                : new[] { Int("hidden_size", hidden) };
            var output = graph.Add(opType, path, inputs, attributes);
            sequence = graph.Add("Squeeze", path, [output, directionAxis]);
        }
        return recurrent.BatchFirst ? graph.Add("Transpose", path, [sequence], Ints("perm", 1, 0, 2)) : sequence;
    }

    /// <summary>The gate blocks of <paramref name="values"/> (equal row blocks, one per gate) in ONNX's order.</summary>
    private static float[] Reorder(ReadOnlySpan<float> values, int[] gateOrder)
    {
        int block = values.Length / gateOrder.Length;
        var reordered = new float[values.Length];
        for (int gate = 0; gate < gateOrder.Length; gate++)
        {
            values.Slice(gateOrder[gate] * block, block).CopyTo(reordered.AsSpan(gate * block, block));
        }
        return reordered;
    }
}
